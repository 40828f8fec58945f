"""The ``eamp`` command: parses arguments into the config objects the Python API takes
(:mod:`eamp.cli.settings`) and runs a subcommand (:mod:`eamp.cli.commands`). Every error
a user can cause ends in one line ``eamp: error: ...`` and exit code 2 (1 for a command
that did part of its work); warnings are one line ``eamp: warning: ...``."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

from eamp.errors import UsageError

__all__ = ["UsageError", "main"]


def _one_line(error: object) -> str:
    """An error's or warning's text on one line."""
    return " ".join(part.strip() for part in str(error).splitlines() if part.strip())


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: object = None, line: str | None = None) -> None:
    print(f"eamp: warning: {_one_line(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from eamp.cli.parser import build_parser
    from eamp.cli.settings import CREATED, remove_empty_folders
    from eamp.data.catalog import DatasetUnavailable
    from eamp.errors import Incomplete

    CREATED.clear()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # one line each, as the errors
            return _run(build_parser(), argv)
    except (UsageError, ValueError, DatasetUnavailable, FloatingPointError) as error:
        print(f"eamp: error: {_one_line(error)}", file=sys.stderr)
        remove_empty_folders()
        return 2
    except Incomplete as error:
        print(f"eamp: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("eamp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # whatever read stdout has gone (`eamp ... | head`): stop quietly
        import os

        # Python flushes stdout once more at exit: point it at nothing first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(parser: Any, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for reports
    from eamp.runtime import retain_freed_memory, use_threads

    use_threads(args.threads)
    retain_freed_memory()
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
