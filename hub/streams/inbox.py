"""File inboxes: which files of a folder are ready to be read. Only regular files — never a
symlink, a directory or a device (skipped, logged once, counted) — and only once their size and
modification time have been unchanged for the settle time, so that a file still being written is
not read half. Senders should write under another name (or in another folder of the same file
system) and rename when done; the settle time covers those that do not."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class InboxScan:
    """The state of one watched folder between scans."""

    suffix: str
    settle_s: float = 2.0
    clock: Callable[[], float] = time.monotonic
    skipped: int = 0
    errors: int = 0
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def ready(self, folder: Path) -> list[Path]:
        """Regular ``*<suffix>`` files of ``folder`` whose size has settled, by name."""
        now = self.clock()
        out: list[Path] = []
        present: set[str] = set()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.errors += 1
            logger.warning("inbox %s cannot be read: %s", folder.name, type(exc).__name__)
            return []
        for entry in entries:
            if not entry.name.endswith(self.suffix) or entry.name.startswith("."):
                continue
            key = entry.path
            present.add(key)
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                if key not in self._warned:
                    self._warned.add(key)
                    self.skipped += 1
                    logger.warning("inbox entry %s skipped: not a regular file", entry.name[:80])
                continue
            mark = (info.st_size, info.st_mtime_ns)
            seen = self._seen.get(key)
            if seen is None or seen[:2] != mark:
                self._seen[key] = (*mark, now)
                if self.settle_s > 0:
                    continue
            elif now - seen[2] < self.settle_s:
                continue
            out.append(Path(entry.path))
        for key in list(self._seen):
            if key not in present:
                del self._seen[key]
        self._warned &= present
        return out

    def forget(self, path: Path) -> None:
        self._seen.pop(str(path), None)


def read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file, opened without following a symlink; None if it is not one."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def move(path: Path, folder: str, reason: str | None = None) -> None:
    """Move a handled file to ``processed/`` or ``rejected/`` (with ``<file>.reason.txt``)."""
    target = path.parent / folder
    target.mkdir(exist_ok=True)
    path.replace(target / path.name)
    if reason is not None:
        (target / f"{path.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
