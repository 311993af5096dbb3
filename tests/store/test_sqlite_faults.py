"""SQLite stores under faults: a writer holding the file, a read-only directory."""

from __future__ import annotations

import sqlite3
import threading
import time

from fastpath.store import open_store
from tests.store import dataset


def test_new_file_waits_for_a_writer_holding_it(tmp_path):
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")          # a writer in rollback-journal mode, mid-transaction
    other.execute("CREATE TABLE other (a)")
    release = threading.Timer(1.0, lambda: other.execute("COMMIT"))
    release.start()
    start = time.monotonic()
    try:
        with open_store(f"sqlite:///{path}") as store:        # PRAGMA journal_mode=WAL must wait
            dataset.write(store)
    finally:
        release.join()
        other.close()
    assert time.monotonic() - start >= 0.9
    with open_store(f"sqlite:///{path}", readonly=True) as store:
        assert store.count_samples() == len(dataset.samples())
