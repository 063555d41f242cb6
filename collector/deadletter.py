"""Messages that cannot be stored go to a JSONL file with the reason and the payload.

Bounded, and never a reason to stop: the file rotates at `max_bytes` (`dead-letter.jsonl.1`
... `.<keep>`, the oldest dropped), a payload is kept up to `payload_bytes` with its full length
and sha256 (a flood of large poison messages costs at most max_bytes x (keep + 1) of disk), and
a full disk, an unwritable folder or a write after close() is logged and counted, never
raised: a dead letter is evidence, not something worth losing the data flow for.

One line: {"received_ms", "topic", "reason", "detail", "length", "sha256", and "payload" (the
payload as text) or "payload_base64" (when it is not UTF-8), plus "truncated": true when only
its first payload_bytes are kept}.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson

from shopfloor import clock

log = logging.getLogger("shopfloor.collector.deadletter")

MAX_BYTES = 10 * 1024 * 1024  # one file's size before it rotates
KEEP = 3  # rotated files kept beside the current one
PAYLOAD_BYTES = 1024  # of a payload kept in the file (its length and hash always)
MAX_TOPIC_CHARS = 512
MAX_DETAIL_CHARS = 1000


def _text(head: bytes, cut: bool) -> str | None:
    """The bytes as UTF-8 text, or None; when `cut`, a character the cut split at the end is
    left out (not a reason to fall back to base64)."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.reason == "unexpected end of data" and exc.end == len(head):
            try:
                return head[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None


class DeadLetter:
    def __init__(
        self,
        path: Path | str | None,
        *,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP,
        payload_bytes: int = PAYLOAD_BYTES,
    ):
        self.path = Path(path) if path else None
        self.max_bytes = max_bytes
        self.keep = max(0, keep)
        self.payload_bytes = payload_bytes
        self.written = 0  # lines in the file(s)
        self.failed = 0  # dead letters lost to an error (full disk, closed, unwritable)
        self.rotations = 0
        self._lock = threading.Lock()
        self._f: Any = None  # an unbuffered binary file: nothing is left half in a buffer
        self._size = 0
        self._closed = False
        self._failing = False
        if self.path is not None:
            with self._lock:
                self._open()

    # -- file handling (under the lock) ----------------------------------------------------

    def _open(self) -> bool:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "ab", buffering=0)  # noqa: SIM115 (kept open for the collector's life)
            self._size = self._f.seek(0, os.SEEK_END)
            return True
        except OSError as exc:
            self._f = None
            self._fail(f"cannot open {self.path}: {exc}")
            return False

    def _rotate(self) -> None:
        assert self.path is not None
        self._f.close()
        self._f = None
        if self.keep:
            for i in range(self.keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{i}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self.rotations += 1

    def _fail(self, why: str) -> None:
        self.failed += 1
        if not self._failing:  # once per failing spell, not once per message
            self._failing = True
            log.error("dead letters are being lost: %s", why)

    def _append(self, line: bytes) -> None:
        if self._f is None and not self._open():
            return
        try:
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
                if not self._open():
                    return
            view = memoryview(line)
            while view:
                n = self._f.write(view)
                view = view[n:]
            self._size += len(line)
        except (OSError, ValueError) as exc:
            try:  # drop a partly written line, so the next one starts a line of its own
                if self._f is not None:
                    self._f.truncate(self._size)
            except (OSError, ValueError):
                pass
            self._fail(f"{self.path}: {exc}")
            return
        self.written += 1
        if self._failing:
            self._failing = False
            log.warning("dead letters are written again to %s (%d lost)", self.path, self.failed)

    # -- public ----------------------------------------------------------------------------

    def line(self, topic: str, raw: bytes, reason: str, detail: str) -> bytes:
        """The JSONL line for one dead letter."""
        head = raw[: self.payload_bytes]
        text = _text(head, len(raw) > self.payload_bytes)
        entry: dict[str, Any] = {
            "received_ms": clock.now_ms(),
            "topic": topic[:MAX_TOPIC_CHARS],
            "reason": reason,
            "detail": detail[:MAX_DETAIL_CHARS],
            "length": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
        if text is not None:
            entry["payload"] = text
        else:
            entry["payload_base64"] = base64.b64encode(head).decode()
        if len(raw) > self.payload_bytes:
            entry["truncated"] = True
        return orjson.dumps(entry) + b"\n"

    def write(self, topic: str, raw: bytes, reason: str, detail: str) -> None:
        """Appends one dead letter; never raises (a failure is logged and counted in failed)."""
        if self.path is None:
            return
        try:
            line = self.line(topic, raw, reason, detail)
        except Exception as exc:  # a dead letter must never stop the caller
            with self._lock:
                self._fail(f"cannot encode a dead letter: {exc!r}")
            return
        with self._lock:
            if self._closed:
                self._fail("written after close()")
                return
            self._append(line)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._f is not None:
                try:
                    self._f.close()
                except OSError as exc:
                    log.error("closing %s: %s", self.path, exc)
                self._f = None
