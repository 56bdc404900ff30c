"""One owner for a data file's consumer positions.

Only one process runs the processors and delivery workers of a data file: it holds an exclusive
``flock`` on ``<data file>.owner``, which the kernel releases when the process ends, also by
SIGKILL, so a restarted hub takes over at once. A second ``hub run`` (or ``hub replay``) refuses
with the owner's pid; ``hub ingest`` beside a running hub only appends and leaves the processing
to the owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from hub.errors import NotOwner


def owner_file(data: Path) -> Path:
    return data.with_name(data.name + ".owner")


class Ownership:
    """The exclusive right to process one data file, held until ``release``."""

    def __init__(self, data: Path) -> None:
        self.path = owner_file(data)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take ownership now, or raise NotOwner naming the process that has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise NotOwner(f"the data file {self.path.with_suffix('')} is processed by a running hub "
                           f"(pid {holder}); stop it first, or use another data file") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Ownership:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def running_owner(data: Path) -> int | None:
    """The pid of the process that owns the data file, or None when nobody does."""
    path = owner_file(data)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 64, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
