"""Messages that cannot be stored go to a JSONL file with the reason and the raw payload."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import orjson

from shopfloor import clock


class DeadLetter:
    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._f = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "ab")  # noqa: SIM115 (kept open for the collector's life)

    def write(self, topic: str, raw: bytes, reason: str, detail: str) -> None:
        if self._f is None:
            return
        try:
            payload: dict[str, str] = {"payload": raw.decode("utf-8")}
        except UnicodeDecodeError:
            payload = {"payload_base64": base64.b64encode(raw).decode()}
        line = orjson.dumps(
            {
                "received_ms": clock.now_ms(),
                "topic": topic,
                "reason": reason,
                "detail": detail,
                **payload,
            }
        )
        with self._lock:
            self._f.write(line + b"\n")
            self._f.flush()

    def close(self) -> None:
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None
