"""SQLite stores under faults: a writer holding the file, a read-only directory."""

from __future__ import annotations

import sqlite3
import threading
import time

from fastpath.cli.main import main
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


def test_store_in_a_read_only_directory_can_be_read(tmpfs, tmp_path, capsys):
    fs = tmpfs("4m")
    url = f"sqlite:///{fs.path / 'r.db'}"
    with open_store(url) as store:
        dataset.write(store)
    fs.readonly()                         # no -wal or -shm can be made next to it
    with open_store(url, readonly=True) as store:
        assert dataset.snapshot(store)["samples"] == sorted(dataset.samples(), key=repr)
    assert main(["result", "list", url, "--object", "sut"]) == 0
    assert "Ampere Altra Max" in capsys.readouterr().out
    src = tmp_path / "in.csv"
    src.write_text("sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value\n"
                   "lab,p,fp/syscall,ns,ns,lower,0,0,1.5\n")
    assert main(["result", "import", url, str(src)]) == 3                # a writer: one line
    err = capsys.readouterr().err
    assert err.startswith(f"Error: cannot open {url}: ") and err.count("\n") == 1, err
