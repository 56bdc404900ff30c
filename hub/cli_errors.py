"""How the ``hub`` command fails and how its help reads.

Every failure ends in one line on stderr and a non-zero exit, never a traceback:

- a usage error (unknown option, a missing file, a bad value)      → ``error: …``, exit 2
- a HubError (settings, a log that is not there, a peer that fails) → ``error: …``, exit 2
- an OS error (connection refused, file not found, permission)     → ``error: …``, exit 2
- anything else                                                    → ``error: <kind>: …``, exit 2
- Ctrl-C                                                           → exit 130

``HUB_TRACEBACK=1`` shows the traceback as well, for a developer. Help is plain text (so that
``[kafka]`` and other settings sections print as written) with the type of each value named as
the shell user types it (TEXT, INTEGER, FILE …); flags show no type.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from typer import Abort, _click
from typer.core import TyperGroup

from hub.errors import HubError

EXIT_FAILURE = 2


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, without the traceback (and without input values)."""
    if isinstance(exc, _click.exceptions.UsageError) and exc.ctx is not None:
        return f"{exc.format_message()} (see '{exc.ctx.command_path} --help')"
    if isinstance(exc, _click.exceptions.ClickException):
        return exc.format_message()
    if isinstance(exc, HubError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused ({exc.strerror or exc})"
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        return "the peer closed the connection before a complete reply"
    if isinstance(exc, TimeoutError):
        return "no answer in time (timed out)"
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}" if exc.filename else f"file not found ({exc.strerror})"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}" if exc.filename else "permission denied"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _fail(exc: BaseException) -> int:
    if os.environ.get("HUB_TRACEBACK"):
        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {describe(exc)}", file=sys.stderr)
    return EXIT_FAILURE


def _metavar(param: Any) -> str | None:
    desc = getattr(param, "type_descriptor", None)
    if desc is None or getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if desc.is_choice:
        return None  # the choices are shown
    if desc.is_datetime:
        formats = desc.parameter_info.formats or ()
        return "DATE" if list(formats) == ["%Y-%m-%d"] else "DATETIME"
    annotation = desc.annotation
    if desc.is_list:
        annotation = getattr(annotation, "__args__", (str,))[0]
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        info = desc.parameter_info
        return ("FILE" if getattr(info, "dir_okay", True) is False
                else "DIR" if getattr(info, "file_okay", True) is False else "PATH")
    return {int: "INTEGER", float: "NUMBER", str: "TEXT", bool: "BOOLEAN"}.get(annotation, "TEXT")


def _no_type(ctx: Any) -> None:
    return None


def name_types(command: Any) -> None:
    """Give every value-taking parameter of ``command`` and its subcommands a plain metavar."""
    for param in getattr(command, "params", ()):
        if param.metavar is None:
            param.metavar = _metavar(param)
            if getattr(param, "param_type_name", "") == "argument" and param.metavar:
                param.display_type_rich = _no_type  # the metavar names the type already
    for sub in getattr(command, "commands", {}).values():
        name_types(sub)


class HubGroup(TyperGroup):
    """The ``hub`` group: plain-text help with named types, and one-line failures."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        name_types(self)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)
        except _click.exceptions.NoArgsIsHelpError as exc:
            print(exc.format_message(), file=sys.stderr)
            code = exc.exit_code
        except Abort as exc:
            cause = exc.__cause__
            code = 130 if cause is None else _fail(cause)
        except KeyboardInterrupt:
            code = 130
        except Exception as exc:  # every failure: one line, no traceback
            code = _fail(exc)
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


__all__ = ["EXIT_FAILURE", "HubGroup", "describe", "name_types"]
