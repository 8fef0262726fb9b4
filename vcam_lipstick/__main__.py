import sys

from .cli import main

if __name__ == "__main__":  # the preview window's spawned process imports this module too
    sys.exit(main())
