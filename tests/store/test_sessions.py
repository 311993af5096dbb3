"""Store.new_session: session indexes allocated atomically by the store, on every backend."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from fastpath.errors import StoreError
from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Session, Sut, SwProfile
from tests.fixtures.stores import make_store_url


def _objects(store):
    store.put_sut(Sut("lab"))
    store.put_swprofile(SwProfile("p"))
    store.put_swprofile(SwProfile("q"))
    store.put_benchmark(Benchmark("fp/syscall", "fp", "syscall"))
    store.put_resultclass(ResultClass("fp/syscall", "ns", "ns", "lower"))


def test_new_session_comes_after_rows_and_samples_of_its_pair(any_store_url):
    with open_store(any_store_url) as store:
        _objects(store)
        first = store.new_session(Session("lab", "p", 99, "running", started="t0"))
        assert first.session == 0 and first.started == "t0"
        store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 4, 0, 1.0)])  # no session row
        assert store.new_session(Session("lab", "p", 0, "running")).session == 5
        assert store.new_session(Session("lab", "q", 0, "running")).session == 0     # per pair
        with pytest.raises(StoreError, match="unknown swprofile 'zz'"):
            store.new_session(Session("lab", "zz", 0, "running"))
    with open_store(any_store_url, readonly=True) as store:
        assert sorted((s.swprofile, s.session) for s in store.sessions()) == [
            ("p", 0), ("p", 5), ("q", 0)]


ALLOCATOR = textwrap.dedent("""
    import pathlib, sys, time
    from fastpath.store import open_store
    from fastpath.store.model import Session
    url, n, go = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
    with open_store(url) as store:
        go.with_name(f"ready-{sys.argv[4]}").touch()
        while not go.exists():
            time.sleep(0.01)
        print(" ".join(str(store.new_session(Session("lab", "p", 0, "running")).session)
                       for _ in range(n)))
""")


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("mysql", marks=pytest.mark.db),
                                  pytest.param("postgresql", marks=[pytest.mark.db, pytest.mark.slow])])
def test_concurrent_processes_never_get_the_same_index(kind, tmp_path, fresh_db_url):
    url = make_store_url(kind, tmp_path, fresh_db_url)
    with open_store(url) as store:
        _objects(store)
    go, n = tmp_path / "go", 25
    procs = [subprocess.Popen([sys.executable, "-c", ALLOCATOR, url, str(n), str(go), str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    deadline = time.monotonic() + 60         # all three have the store open: then they race
    while len(list(tmp_path.glob("ready-*"))) < 3 and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.touch()
    got = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        got += [int(x) for x in out.split()]
    assert sorted(got) == list(range(3 * n))
