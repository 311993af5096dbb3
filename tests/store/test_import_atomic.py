"""`result import` is all or nothing: a failed or killed import leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from fastpath.cli.main import main
from fastpath.store import open_store
from fastpath.store.model import Sample
from tests.store.test_sql_faults import DB, HEADER, _Blocker, _objects, _objects_and_pks


def _write_import(path, n, sut="lab", swprofile="p"):
    with open(path, "w") as f:
        f.write(HEADER)
        f.writelines(f"{sut},{swprofile},fp/syscall,ns,ns,lower,{i // 1000},{i % 1000},{i}.5\n"
                     for i in range(n))
    return str(path)


@pytest.mark.parametrize("kind", DB)
def test_killed_import_leaves_no_committed_batch(kind, fresh_db_url, tmp_path):
    url = fresh_db_url(kind)
    ids = _objects_and_pks(url)
    n = 30000                                 # two batches (sqlstore.CHUNK = 20000)
    src = _write_import(tmp_path / "in.csv", n, sut="other")
    blocker = _Blocker(url, kind, ids)
    try:
        with open(src, "a") as f:            # the last row waits for the blocker's lock
            f.write("lab,p,fp/syscall,ns,ns,lower,0,7,1.5\n")
        blocker.insert(0, 7)
        proc = subprocess.Popen([sys.executable, "-m", "fastpath.cli.main", "result", "import", url,
                                 src], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        blocker.wait_for_a_lock_wait()
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        blocker.conn.rollback()
    finally:
        blocker.close()
    with open_store(url, readonly=True) as store:
        assert store.count_samples() == 0
        assert [s.id for s in store.suts()] == ["lab"]       # 'other' was rolled back too


@pytest.mark.parametrize("kind", ["sqlite", "csv"])
def test_import_failing_on_a_full_file_system_leaves_nothing(kind, tmpfs, tmp_path, capsys):
    fs = tmpfs("1m")
    url = f"sqlite:///{fs.path / 'r.db'}" if kind == "sqlite" else str(fs.path / "store")
    with open_store(url) as store:
        _objects(store)
        store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 0, 0, 1.0)])
    before = sorted(os.listdir(fs.path / "store")) if kind == "csv" else None
    src = _write_import(tmp_path / "in.csv", 60000, sut="other", swprofile="q")   # ~2.5 MB
    assert main(["result", "import", url, src]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("full" in err or "No space left" in err), err
    with open_store(url, readonly=True) as store:
        assert store.count_samples() == 1
        assert [s.id for s in store.suts()] == ["lab"] and [p.id for p in store.swprofiles()] == ["p"]
    if kind == "csv":
        assert sorted(os.listdir(fs.path / "store")) == before       # no .tmp, no journal
    with open_store(url) as store:            # and the store takes writes again
        store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 0, 1, 2.0)])


KILLED_INSIDE = """
import os, signal, sys
from fastpath.store import open_store
from fastpath.store.model import Sample, Sut
with open_store(sys.argv[1]) as store, store.transaction():
    store.put_sut(Sut("other"))
    store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 1, r, 2.0) for r in range(5)])
    os.kill(os.getpid(), signal.SIGKILL)          # killed with its transaction open
"""


def test_csv_writer_killed_inside_a_transaction_leaves_nothing_readable(tmp_path, caplog):
    url = str(tmp_path / "store")
    with open_store(url) as store:
        _objects(store)
        store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 0, 0, 1.0)])
    done = subprocess.run([sys.executable, "-c", KILLED_INSIDE, url], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert os.path.exists(tmp_path / "store" / ".transaction")
    assert len((tmp_path / "store" / "samples.csv").read_text().splitlines()) == 1 + 1 + 5
    with open_store(url, readonly=True) as reader:          # readers stop at the journal
        assert reader.count_samples() == 1 and len(reader.sample_columns()) == 1
    with open_store(url) as store:                           # the next writer cuts it away
        assert store.count_samples() == 1
        assert store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 1, 0, 3.0)]) == 1
    assert "interrupted transaction" in caplog.text
    assert not os.path.exists(tmp_path / "store" / ".transaction")
    with open_store(url, readonly=True) as store:
        assert sorted(s.value for s in store.samples()) == [1.0, 3.0]


@pytest.mark.parametrize("kind", [pytest.param("mysql", marks=[pytest.mark.db, pytest.mark.slow]),
                                  pytest.param("postgresql", marks=pytest.mark.db)])
def test_two_imports_of_the_same_rows_in_opposite_orders_both_succeed(kind, fresh_db_url, tmp_path):
    url = fresh_db_url(kind)
    with open_store(url) as store:
        _objects(store)
    rows = [f"lab,p,fp/syscall,ns,ns,lower,{i // 100},{i % 100},{i}.25\n" for i in range(30000)]
    files = []
    for name, order in (("up.csv", rows), ("down.csv", rows[::-1])):
        (tmp_path / name).write_text(HEADER + "".join(order))
        files.append(str(tmp_path / name))
    procs = [subprocess.Popen([sys.executable, "-m", "fastpath.cli.main", "result", "import", url, f],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    assert sum(int(out.split()[1]) for out, _ in results) == 30000   # "imported N new samples"
    with open_store(url, readonly=True) as store:
        assert store.count_samples() == 30000
