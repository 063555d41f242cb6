"""A helper process that dies with the process that started it (Linux's parent-death signal).

The bulk writer process (shopfloor.cli.bulk) ignores SIGINT and SIGTERM (the simulating
process decides how a run stops) and ends when its pipe closes. But a writer waiting on a
SQLite busy lock (up to 30 s, again and again) reads no pipe: with its parent SIGKILLed it
would linger alone, holding the store. prctl(PR_SET_PDEATHSIG) has the kernel send it a signal
the moment its parent dies, whatever it is blocked in.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """In the child: `sig` (by default SIGKILL, which no handler or SIG_IGN stops) once
    `parent_pid` ends. The signal follows the death of the parent's THREAD that started this
    process: start it from a thread that lives as long as the parent (the main thread).
    A parent already gone before this call (the child then belongs to init or a subreaper) gets
    the signal at once. Returns False where there is no such thing (not Linux, prctl refused):
    the caller's other ways to end (its pipe's end) remain."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent_pid:  # died between our start and the prctl
        os.kill(os.getpid(), sig)
    return True
