"""The CSV directory store: crash safety, corruption, locking, versions."""

from __future__ import annotations

import logging
import os

import pytest

from fastpath.cli.main import main
from fastpath.errors import StoreError, StoreVersionError
from fastpath.store import open_store
from fastpath.store.csvfiles import rewrite
from tests.store import dataset


@pytest.fixture
def csv_store(tmp_path):
    path = tmp_path / "results"
    with open_store(str(path)) as store:
        dataset.write(store)
    return path


def test_files_are_readable_csv_with_headers(csv_store):
    names = sorted(p.name for p in csv_store.iterdir() if p.suffix == ".csv")
    assert names == ["benchmarks.csv", "errors.csv", "meta.csv", "resultclasses.csv", "samples.csv",
                     "sessions.csv", "suts.csv", "swprofiles.csv"]
    lines = (csv_store / "samples.csv").read_text().splitlines()
    assert lines[0] == "sut,swprofile,benchmark,resultclass,session,repeat,value,timestamp"
    assert len(lines) == 1 + len(dataset.samples())
    assert "6.8.0-baseline,6.8.0,a1b2c3d4e5f6" in (csv_store / "swprofiles.csv").read_text()
    assert not [p for p in csv_store.iterdir() if p.name.endswith(".tmp")]


def test_torn_last_line_is_ignored_by_readers_and_dropped_by_writers(csv_store, caplog):
    samples = csv_store / "samples.csv"
    with open(samples, "a") as f:
        f.write("Ampere Altra Max,6.9.0,fp/syscall,ns_per_call,9,0,12.")   # crash mid-append
    caplog.set_level(logging.WARNING)
    with open_store(str(csv_store), readonly=True) as store:
        assert store.count_samples() == len(dataset.samples())
        assert len(store.sample_columns()) == len(dataset.samples())
    assert "torn last line" in caplog.text
    with open_store(str(csv_store)) as store:                          # a writer truncates it
        assert samples.read_text().endswith("\n")
        store.append_sample(dataset.samples()[0].__class__(
            "Ampere Altra Max", "6.9.0", "fp/syscall", "ns_per_call", 9, 0, 12.5))
    with open_store(str(csv_store), readonly=True) as store:
        assert store.count_samples() == len(dataset.samples()) + 1


@pytest.mark.parametrize("bad, message", [
    ("Ampere Altra Max,6.9.0,fp/syscall\n", r"samples.csv:\d+: 3 fields, expected 8"),
    ("Ampere Altra Max,6.9.0,fp/syscall,ns_per_call,0,zero,1.0,\n", r"samples.csv:\d+: .*'zero'"),
    ("Ampere Altra Max,6.9.0,fp/syscall,ns_per_call,0,9,1.0e,\n", r"samples.csv:\d+: .*'1.0e'"),
])
def test_corrupt_sample_line_is_named(csv_store, bad, message, capsys):
    with open(csv_store / "samples.csv", "a") as f:
        f.write(bad)
    line = len((csv_store / "samples.csv").read_text().splitlines())
    with open_store(str(csv_store), readonly=True) as store:
        with pytest.raises(StoreError, match=message) as err:
            list(store.samples())
        assert f"samples.csv:{line}:" in str(err.value)
        with pytest.raises(StoreError, match=message):
            store.sample_columns()
    status = main(["result", "merge", str(csv_store), "--output", str(csv_store.parent / "o")])
    err = capsys.readouterr().err
    assert status == 3 and f"samples.csv:{line}:" in err and "Traceback" not in err


def test_corrupt_object_file_is_named(csv_store, capsys):
    (csv_store / "suts.csv").write_text("id,host_name\nx,y\n")
    status = main(["result", "list", str(csv_store), "--object", "sut"])
    err = capsys.readouterr().err
    assert status == 3
    assert "suts.csv:1: unexpected header" in err and err.count("\n") == 1
    (csv_store / "suts.csv").write_text(
        "id,host_name,architecture,cpu_count,cpu_model,numa_nodes,memory,product_name\nx,h,a,two,m,1,0,p\n")
    assert main(["result", "list", str(csv_store), "--object", "sut"]) == 3
    assert "suts.csv:2: column 'cpu_count'" in capsys.readouterr().err


def test_truncated_empty_file_is_named(csv_store):
    (csv_store / "benchmarks.csv").write_text("")
    with pytest.raises(StoreError, match="benchmarks.csv: empty file"):
        open_store(str(csv_store), readonly=True)


def test_second_writer_is_refused_while_readers_work(csv_store):
    with open_store(str(csv_store)) as writer:
        with pytest.raises(StoreError, match=rf"in use by another writer \(pid {os.getpid()}"):
            open_store(str(csv_store))
        with open_store(str(csv_store), readonly=True) as reader:
            assert reader.count_samples() == len(dataset.samples())
        writer.append_sample(dataset.samples()[0])
    open_store(str(csv_store)).close()                # released on close


def test_newer_schema_version_is_refused(csv_store, capsys):
    rewrite(str(csv_store / "meta.csv"), ("key", "value"), [("schema_version", 99)])
    with pytest.raises(StoreVersionError, match="schema version 99, newer than this fastpath"):
        open_store(str(csv_store))
    assert main(["result", "list", str(csv_store), "--object", "sut"]) == 3
    assert "upgrade fastpath" in capsys.readouterr().err


def test_not_a_store_and_missing_store(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("a,b\n")
    with pytest.raises(StoreError, match="not a fastpath store: it holds CSV files but no meta.csv"):
        open_store(str(other))
    assert main(["result", "list", str(tmp_path / "absent"), "--object", "sut"]) == 3
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "absent").exists()                # a reader creates nothing
    empty = tmp_path / "empty"
    open_store(str(empty)).close()
    assert main(["result", "list", str(empty), "--object", "swprofile"]) == 1
    assert "holds no swprofile" in capsys.readouterr().err
    f = tmp_path / "file.db"
    f.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a CSV store directory"):
        open_store(str(f))


@pytest.fixture
def plain_store(tmp_path):
    """Ids without quotes or commas: samples.csv takes the fast whole-file parse."""
    from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile
    path = tmp_path / "plain"
    with open_store(str(path)) as store:
        store.put_sut(Sut("lab"))
        for p in ("a", "b", "c"):
            store.put_swprofile(SwProfile(p))
        store.put_benchmark(Benchmark("x/y", "x", "y"))
        for rc in ("r1", "r2"):
            store.put_resultclass(ResultClass("x/y", rc, "ns", "lower"))
        store.append_samples(Sample("lab", p, "x/y", rc, s, r, s * 10.0 + r + 0.1, "t")
                             for p in "abc" for rc in ("r1", "r2") for s in range(3) for r in range(4))
    return path


@pytest.mark.parametrize("reader", ["arrow", "python"])
def test_fast_column_read_equals_samples(plain_store, reader, monkeypatch):
    from fastpath.store.csvstore import CsvStore
    if reader == "python":
        monkeypatch.setattr(CsvStore, "_arrow_columns", lambda self: None)
    with open_store(str(plain_store), readonly=True) as store:
        assert (store._arrow_columns() is not None) == (reader == "arrow")
        for filters in ({}, {"swprofiles": ["a", "c"]}, {"resultclass": "r2"}, {"sut": "lab", "benchmark": "x/y"},
                        {"swprofiles": ["zz"]}):
            cols = store.sample_columns(**filters)
            got = sorted((cols.suts[cols.sut[i]], cols.swprofiles[cols.swprofile[i]],
                          *cols.resultclasses[cols.resultclass[i]], int(cols.session[i]),
                          int(cols.repeat[i]), float(cols.value[i])) for i in range(len(cols)))
            assert got == sorted((s.sut, s.swprofile, s.benchmark, s.resultclass, s.session, s.repeat,
                                  s.value) for s in store.samples(**filters))
        assert len(store.sample_columns()) == 3 * 2 * 3 * 4


@pytest.mark.parametrize("bad, message", [
    ("lab,a,x/y,r1,9,0,1.0\n", r"7 fields, expected 8"),
    ("lab,a,x/y,r1,9,0,1.0,t,extra\n", r"9 fields, expected 8"),
    ("lab,a,x/y,r1,9,0,one,t\n", r"'one'"),
    ("lab,a,x/y,r1,9,1.5,1.0,t\n", r"'1.5'"),
])
def test_fast_column_read_names_bad_line(plain_store, bad, message):
    with open(plain_store / "samples.csv", "a") as f:
        f.write(bad)
    line = len((plain_store / "samples.csv").read_text().splitlines())
    with open_store(str(plain_store), readonly=True) as store:
        with pytest.raises(StoreError, match=message) as err:
            store.sample_columns(swprofiles=["a"])
    assert f"samples.csv:{line}:" in str(err.value)
