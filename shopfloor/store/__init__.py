"""Stores: one interface (write messages; query states, counters, energy and samples), several
backends. `open_store(url)` picks one from a URL (docs/architecture.md, Stores)."""

from shopfloor.store.base import (
    MachineInfo,
    PermanentStoreError,
    ReadOnlyStoreError,
    Record,
    Store,
    StoreError,
)
from shopfloor.store.url import open_store, parse_store_url

__all__ = [
    "MachineInfo",
    "PermanentStoreError",
    "ReadOnlyStoreError",
    "Record",
    "Store",
    "StoreError",
    "open_store",
    "parse_store_url",
]
