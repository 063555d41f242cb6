"""The demo's end-of-shift reports: at each shift end, the shift's PDF (English and Vietnamese)
and CSV in <data folder>/reports/ (shopfloor.shiftreport, as `shopfloor report` writes them).

A shift end is seen on the supervisor's regular check (every half second, with its other
checks), from shopfloor.clock, so a pinned clock drives it: the next end is computed once and
only compared with the clock until it passes. The files are written once the store holds the
plant's data past that end (the collector stores a few seconds behind the plant), so a report
never misses the shift's last minutes.

Shift ends covered by the backfill are reported too, once the backfill has stored them: after
a restart, the shift that ended while the demo was down gets its report (the backfill starts
where the stored data ends). Shifts before the backfill's start are not: the demo never
simulated them. A report already in the folder is not rewritten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from shopfloor import shiftreport
from shopfloor.config.schema import PlantConfig
from shopfloor.store.base import Store, StoreError

log = logging.getLogger("shopfloor.demo")
LOOKAHEAD_MS = 8 * 86_400_000  # a plant with no shift in a week has nothing to report


class ShiftReports:
    def __init__(
        self,
        cfg: PlantConfig,
        store: Store,
        folder: Path,
        since_ms: int,
        stored_until_ms: Callable[[], int],
    ):
        self.cfg = cfg
        self.store = store
        self.folder = folder
        self.after_ms = since_ms  # shifts ending after this instant are still to report
        self.stored_until_ms = stored_until_ms
        self._next: shiftreport.ShiftWindow | None = None
        self._next_from = -1  # the after_ms that _next was computed for

    def next_shift(self) -> shiftreport.ShiftWindow | None:
        """The first shift ending after after_ms (computed once per after_ms)."""
        if self._next_from != self.after_ms:
            ahead = shiftreport.shifts_ended(self.cfg, self.after_ms, self.after_ms + LOOKAHEAD_MS)
            self._next = ahead[0] if ahead else None
            self._next_from = self.after_ms
        return self._next

    def due(self, now_ms: int) -> list[Path]:
        """Write the report of every shift that has ended by now and is stored; the files."""
        written: list[Path] = []
        while (w := self.next_shift()) is not None and w.t1_ms <= now_ms:
            if self.stored_until_ms() < w.t1_ms:
                break  # its last minutes are still on their way to the store
            written += self.write(w)
            self.after_ms = w.t1_ms
        return written

    def write(self, w: shiftreport.ShiftWindow) -> list[Path]:
        pdf = self.folder / f"{w.stem}.pdf"
        if pdf.exists():
            return []
        try:
            if not shiftreport.has_data(self.store, w):
                # An all-zero report would pass for an idle shift: none rather than that.
                log.info("end-of-shift report of %s not written: no data stored for it", w.key)
                return []
            data = shiftreport.collect(self.store, self.cfg, w)
            self.folder.mkdir(parents=True, exist_ok=True)
            out = []
            for name, content in (
                (f"{w.stem}.csv", shiftreport.csv_bytes(data)),
                (f"{w.stem}.vi.pdf", shiftreport.pdf_bytes(data, "vi")),
                (f"{w.stem}.pdf", shiftreport.pdf_bytes(data, "en")),  # last: marks it done
            ):
                path = self.folder / name
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(content)
                tmp.replace(path)  # a reader never sees half a file
                out.append(path)
        except (StoreError, OSError) as exc:
            # The demo goes on: a report it cannot write is a warning, not a stop.
            log.warning("end-of-shift report of %s not written: %s", w.key, exc)
            return []
        return out
