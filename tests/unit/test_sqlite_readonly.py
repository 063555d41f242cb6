"""Readers open SQLite read-only: they can never write, and they see what the writer adds."""

from __future__ import annotations

import pytest

from shopfloor.store import ReadOnlyStoreError, open_store
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore


def energy(seq: int) -> Record:
    return Record("acme", "hcm", "a", "l1", "m1", "energy", 1_795_366_800_000 + seq, seq,
                  {"energy_kwh": float(seq)})  # fmt: skip


def test_a_reader_sees_the_writers_data_and_cannot_write(tmp_path):
    path = tmp_path / "s.db"
    writer = SqliteStore(path)
    writer.write([energy(1)])
    reader = open_store(f"sqlite:///{path}", read_only=True)
    assert isinstance(reader, SqliteStore) and reader.read_only
    assert reader.max_seq() == {"m1": 1}
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        reader.write([energy(2)])
    # The engine refuses too, not only the store's check.
    with pytest.raises(Exception, match="readonly"):
        reader.db.execute("DELETE FROM energy")
    writer.write([energy(2)])  # the reader holds no lock the writer waits on
    assert reader.max_seq() == {"m1": 2}
    reader.close()
    writer.close()


def test_a_closed_wal_file_opens_read_only(tmp_path):
    path = tmp_path / "s.db"
    writer = SqliteStore(path)
    writer.write([energy(1)])
    writer.close()  # the last connection checkpoints and removes -wal and -shm
    reader = SqliteStore(path, read_only=True)
    assert reader.counter_at("energy", 1_795_366_900_000)["m1"][1] == {"energy_kwh": 1.0}
    reader.close()


def test_a_missing_file_is_made_once_and_still_refuses_writes(tmp_path):
    path = tmp_path / "new.db"
    reader = SqliteStore(path, read_only=True)
    assert path.exists() and reader.machines() == []
    with pytest.raises(ReadOnlyStoreError):
        reader.write([energy(1)])
    reader.close()
