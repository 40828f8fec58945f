"""Errors the command line turns into one line and an exit code (no traceback)."""

__all__ = ["Incomplete", "UsageError"]


class Incomplete(RuntimeError):
    """A command could not do all it was asked to (it says how much it did); exit code 1."""


class UsageError(Exception):
    """A bad argument or setting given on the command line: one line on stderr, exit code
    2."""
