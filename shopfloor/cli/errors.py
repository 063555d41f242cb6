"""User errors: reported as one clear message and exit code 1, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix (a flag, a file, a config); the message names it."""
