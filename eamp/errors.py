"""Errors the command line turns into one line and an exit code (no traceback)."""

__all__ = ["Incomplete"]


class Incomplete(RuntimeError):
    """A command could not do all it was asked to (it says how much it did); exit code 1."""
