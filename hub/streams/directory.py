"""The unit directory as the running hub holds it: read from its file at start, reloadable
while running (``reload``), never half-replaced — a file that does not parse leaves the
current directory in force and reports the error."""

from __future__ import annotations

import threading
from pathlib import Path

from hub.domain.directory import UnitDirectory, parse_directory
from hub.errors import ConfigurationError


class DirectoryHolder:
    """Holds the current UnitDirectory and its source file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._current: UnitDirectory | None = None
        self.loaded_from: str | None = None
        if path is not None:
            self.reload()

    def current(self) -> UnitDirectory | None:
        return self._current

    def reload(self) -> UnitDirectory:
        """Parse the file again and swap it in; ConfigurationError (file, line, field) if bad."""
        if self.path is None:
            raise ConfigurationError("no unit directory file is configured (engine.directory)")
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the unit directory: {exc.strerror}",
                                     file=str(self.path)) from None
        directory = parse_directory(text, str(self.path))
        with self._lock:
            self._current = directory
            self.loaded_from = str(self.path)
        return directory
