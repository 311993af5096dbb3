"""The CSV store under real faults: a full file system (a small tmpfs), immutable files."""

from __future__ import annotations

import subprocess

import pytest

from fastpath.cli.main import main
from fastpath.errors import StoreError
from fastpath.store import open_store
from fastpath.store.model import Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut, SwProfile


def _objects(store):
    store.put_sut(Sut("lab"))
    store.put_swprofile(SwProfile("p"))
    store.put_benchmark(Benchmark("fp/syscall", "fp", "syscall"))
    store.put_resultclass(ResultClass("fp/syscall", "ns", "ns", "lower"))


def _samples(session, n):
    return [Sample("lab", "p", "fp/syscall", "ns", session, r, 1000.0 + r, "2026-12-01T00:00:00Z")
            for r in range(n)]


def _leftovers(path):
    return sorted(p.name for p in path.iterdir() if p.name.endswith(".tmp"))


def test_writer_going_on_after_a_failed_append_keeps_the_store_readable(tmpfs):
    fs = tmpfs("64k")
    url = str(fs.path / "store")
    with open_store(url) as store:
        _objects(store)
        store.append_samples(_samples(0, 10))
        fs.fill(leave=4096)                   # one page left: the batch below is torn by ENOSPC
        with pytest.raises(StoreError, match=r"cannot append to .*samples.csv: No space left"):
            store.append_samples(_samples(1, 500))
        fs.free()
        assert store.append_samples(_samples(2, 3)) == 3          # the same process goes on
        assert store.append_samples(_samples(1, 2)) == 2          # the failed batch was not kept
    with open_store(url, readonly=True) as store:
        assert sorted((s.session, s.repeat) for s in store.samples()) == sorted(
            [(0, r) for r in range(10)] + [(2, r) for r in range(3)] + [(1, 0), (1, 1)])
        assert len(store.sample_columns()) == 15
    assert main(["result", "export", url, "-o", str(fs.path.parent / "out.csv")]) == 0


def test_table_rewrite_on_a_full_file_system_is_one_line_and_leaves_no_tmp(tmpfs, capsys):
    fs = tmpfs("64k")
    url = str(fs.path / "store")
    with open_store(url) as store:
        _objects(store)
        fs.fill()
        with pytest.raises(StoreError, match=r"cannot write .*suts.csv: No space left on device"):
            store.put_sut(Sut("other", cpu_model="x" * 8000))
        assert _leftovers(fs.path / "store") == []
        with pytest.raises(StoreError, match=r"cannot write .*sessions.csv: No space left"):
            store.put_session(Session("lab", "p", 0, "running", started="t" * 8000))
        assert _leftovers(fs.path / "store") == []
        fs.free()
        store.put_sut(Sut("other"))           # the failed write left the table as it was
    with open_store(url, readonly=True) as store:
        assert sorted(s.id for s in store.suts()) == ["lab", "other"] and store.sessions() == []


@pytest.mark.parametrize("table", ["suts", "sessions", "errors"])
def test_immutable_table_file_is_one_line_exit_3(table, tmpfs, tmp_path, capsys):
    fs = tmpfs("1m")
    url = str(fs.path / "store")
    with open_store(url) as store:
        _objects(store)
    target = fs.path / "store" / f"{table}.csv"
    subprocess.run(["chattr", "+i", str(target)], check=True)
    try:
        with open_store(url) as store:
            write = {"suts": lambda: store.put_sut(Sut("other")),
                     "sessions": lambda: store.put_session(Session("lab", "p", 0, "running")),
                     "errors": lambda: store.record_error(ErrorRecord("lab", "p", "boot", "no shell"))}
            with pytest.raises(StoreError, match=rf"cannot (write|append to) .*{table}.csv: "
                                                 r"Operation not permitted"):
                write[table]()
            assert _leftovers(fs.path / "store") == []
        src = tmp_path / "in.csv"
        src.write_text("sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value\n"
                       "new,p,fp/syscall,ns,ns,lower,0,0,1.5\n")
        if table == "suts":                   # through the CLI: one line, exit 3
            assert main(["result", "import", url, str(src)]) == 3
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "suts.csv: Operation not permitted" in err, err
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)
