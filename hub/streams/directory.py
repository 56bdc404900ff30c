"""The unit directory as the running hub holds it: read from its file at start, reloadable
while running (``reload``), never half-replaced — a file that does not parse leaves the
current directory in force and reports the error. A folder holds several regions' directories
side by side (every ``*.yaml`` in it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from hub.domain.directory import UnitDirectory, combine, parse_directory
from hub.errors import ConfigurationError

log = logging.getLogger(__name__)


class DirectoryHolder:
    """Holds the current UnitDirectory and its source file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._current: UnitDirectory | None = None
        self.loaded_from: str | None = None
        self._mtime: int | None = None
        self.listeners: list[Callable[[UnitDirectory], object]] = []
        """Called after each reload (e.g. to release messages held for a ward it did not know)."""
        if path is not None:
            self._mtime = self._signature() if path.exists() else None
            self.reload()

    def current(self) -> UnitDirectory | None:
        return self._current

    def reload_if_changed(self) -> bool:
        """Reload when the file's modification time changed; a bad file keeps the current
        directory and raises ConfigurationError for the caller to report."""
        if self.path is None:
            return False
        try:
            mtime = self._signature()
        except OSError:
            return False
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        self.reload()
        return True

    def _signature(self) -> int:
        """The file's modification time; for a folder, of every directory file in it."""
        assert self.path is not None
        if self.path.is_dir():
            return hash(tuple((f.name, f.stat().st_mtime_ns) for f in sorted(self.path.glob("*.yaml"))))
        return self.path.stat().st_mtime_ns

    def reload(self) -> UnitDirectory:
        """Parse the file again and swap it in; ConfigurationError (file, line, field) if bad."""
        if self.path is None:
            raise ConfigurationError("no unit directory file is configured (engine.directory)")
        files = sorted(self.path.glob("*.yaml")) if self.path.is_dir() else [self.path]
        if not files:
            raise ConfigurationError("no unit directory (*.yaml) in the folder", file=str(self.path))
        parsed = []
        for file in files:  # a folder: every region's directory side by side
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(f"cannot read the unit directory: {exc.strerror}",
                                         file=str(file)) from None
            parsed.append((str(file), parse_directory(text, str(file))))
        directory = parsed[0][1] if len(parsed) == 1 else combine(parsed)
        with self._lock:
            self._current = directory
            self.loaded_from = str(self.path)
        for listener in self.listeners:
            try:
                listener(directory)
            except Exception as exc:  # a listener's failure does not undo the reload
                log.error("after the directory reload, a listener failed: %s", type(exc).__name__)
        return directory
