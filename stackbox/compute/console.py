"""The serial console log of an instance (`instances_path/<uuid>/console.log`, written by
the hypervisor): `get_console_output` returns its tail, as `os-getConsoleOutput` shows it.

Not here: the console log's location policy (boot.py), interactive consoles (VNC).
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_BYTES = 1 << 20  # never read more than the last 1 MiB


def read_tail(path: Path, length: int | None, max_bytes: int = MAX_BYTES) -> str:
    """The last `length` lines (all lines when None) of at most the last `max_bytes`
    of the file, decoded as UTF-8 with replacement characters. Missing file: ""."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - max_bytes)
            fh.seek(start)
            data = fh.read()
    except FileNotFoundError:
        return ""
    if start > 0:  # drop the partial first line
        _, _, data = data.partition(b"\n")
    text = data.decode("utf-8", errors="replace")
    if length is None:
        return text
    if length <= 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-length:])


def get_console_output(instance_dir: Path, length: int | None) -> str:
    """The console output of the instance whose directory is `instance_dir`."""
    return read_tail(Path(instance_dir) / "console.log", length)
