"""Reading small JSON files that a user (or anyone) may have edited: settings, shades, model specs.

One reader so that every such file fails the same way, with one line: a file that is too large, not
UTF-8, not JSON or nested too deeply is a ``JsonFileError`` (a ``ValueError``), never a
``UnicodeDecodeError`` or ``RecursionError`` traceback. Nothing here writes or moves the file.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

MAX_BYTES = 1_000_000  # settings and shade files are a few kB; a model spec is about 2 kB


class JsonFileError(ValueError):
    """The file's content is not usable JSON; the message is one line, without the path."""


def read_json(path: Path, max_bytes: int = MAX_BYTES) -> Any:
    """Parse the JSON file at ``path``.

    Raises ``FileNotFoundError`` when it does not exist, another ``OSError`` when it cannot be read
    (a folder, a FIFO, no permission), and ``JsonFileError`` when its content is not usable.
    """
    with open(path, "rb", opener=_open_regular) as fh:
        data = fh.read(max_bytes + 1)  # bounded even if the file grows after the check
    if len(data) > max_bytes:
        raise JsonFileError(f"larger than {max_bytes:,} bytes")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark from a Windows editor is fine
    except UnicodeDecodeError as exc:
        raise JsonFileError(f"not UTF-8 text at byte {exc.start}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise JsonFileError("nested too deeply") from None
    except ValueError as exc:
        raise JsonFileError(f"not valid JSON: {exc}") from None


def _open_regular(path, flags: int) -> int:
    """Open without blocking on a FIFO, and refuse anything that is not a regular file."""
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "a folder, not a file", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd
