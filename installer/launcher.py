"""Entry point for frozen builds (PyInstaller)."""

import multiprocessing
import sys

from vcam_lipstick.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the preview window runs in a spawned child process
    sys.exit(main())
