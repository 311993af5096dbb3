"""`result merge`: any backend to any backend, idempotent, filtered, conflicts refused."""

from __future__ import annotations

import pytest

from fastpath.cli.main import main
from fastpath.store import open_store
from fastpath.store.model import SwProfile
from tests.store import dataset


@pytest.fixture
def source(tmp_path):
    url = f"sqlite:///{tmp_path / 'src.db'}"
    with open_store(url) as store:
        dataset.write(store)
    return url


def test_merge_twice_adds_nothing(source, any_store_url, capsys):
    assert main(["result", "merge", source, "--output", any_store_url]) == 0
    first = capsys.readouterr().out
    assert f"merged {len(dataset.samples())} new samples (0 already present)" in first
    with open_store(any_store_url, readonly=True) as store:
        once = dataset.snapshot(store)
    assert main(["result", "merge", source, "--output", any_store_url]) == 0
    second = capsys.readouterr().out
    assert f"merged 0 new samples ({len(dataset.samples())} already present), 0 new objects" in second
    assert "0 new error records" in second
    with open_store(any_store_url, readonly=True) as store:
        assert dataset.snapshot(store) == once
        assert len(store.errors()) == len(dataset.ERRORS)
        assert len(store.sessions()) == len(dataset.SESSIONS)
    with open_store(source, readonly=True) as store:
        assert dataset.snapshot(store) == once


def test_filters_select_samples_sessions_and_errors(source, any_store_url):
    assert main(["result", "merge", source, "--output", any_store_url, "--swprofile", "6.9.0",
                 "--benchmark", "fp/syscall", "--sut", dataset.SUTS[0].id]) == 0
    with open_store(any_store_url, readonly=True) as store:
        expected = [s for s in dataset.samples() if s.swprofile == "6.9.0"
                    and s.benchmark == "fp/syscall" and s.sut == dataset.SUTS[0].id]
        assert sorted(store.samples(), key=repr) == sorted(expected, key=repr)
        assert [p.id for p in store.swprofiles()] == ["6.9.0"]
        assert [b.id for b in store.benchmarks()] == ["fp/syscall"]
        assert {r.name for r in store.resultclasses()} == {"ns_per_call", "Ns_per_call"}
        assert sorted(s.session for s in store.sessions()) == [0, 1]
        assert store.errors() == []       # the 6.9.0 error is a sysbench/thread one


def test_several_sources(source, tmp_path):
    other = str(tmp_path / "other")
    assert main(["result", "merge", source, "--output", other, "--swprofile", "6.8.0-baseline"]) == 0
    out = f"sqlite:///{tmp_path / 'all.db'}"
    assert main(["result", "merge", other, source, "--output", out]) == 0
    with open_store(out, readonly=True) as store:
        assert store.count_samples() == len(dataset.samples())


def test_bad_merges_change_nothing(source, tmp_path, capsys):
    dest = f"sqlite:///{tmp_path / 'dest.db'}"
    with open_store(dest) as store:
        store.put_swprofile(SwProfile("6.9.0", "6.9.0", "ffffffffffff"))
    assert main(["result", "merge", source, "--output", dest]) == 3
    err = capsys.readouterr().err
    assert "swprofile '6.9.0' differs between" in err and "kernel_git_sha" in err
    assert "nothing merged" in err and err.count("\n") == 1
    with open_store(dest, readonly=True) as store:
        assert store.count_samples() == 0 and len(store.swprofiles()) == 1
    assert main(["result", "merge", source, "--output", dest, "--swprofile", "nope"]) == 1
    assert "--swprofile 'nope' is in none of" in capsys.readouterr().err
    assert main(["result", "merge", source, "--output", source]) == 1
    assert "is also the --output store" in capsys.readouterr().err
    assert main(["result", "merge", str(tmp_path / "missing"), "--output", dest]) == 3
    assert "does not exist" in capsys.readouterr().err
