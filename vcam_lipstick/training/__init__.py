"""Training and export (torch): only with the [train] extra. The runtime never imports this package."""

import sys


def main(argv=None) -> int:
    """Entry point of ``vcam-lipstick-train``: a clear message instead of a traceback without the extra."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("error: training needs the [train] extra: pip install 'vcam-lipstick[train]' (torch==2.13.0)",
              file=sys.stderr)
        return 2
    from .train import main as train_main

    return train_main(argv)
