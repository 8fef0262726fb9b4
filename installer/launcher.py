"""Entry point for frozen builds (PyInstaller)."""

import sys

from vcam_lipstick.cli import main

if __name__ == "__main__":
    sys.exit(main())
