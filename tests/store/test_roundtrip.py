"""The same dataset through every backend: written, read back, converted, exported, imported."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fastpath.errors import StoreError, StoreReadOnlyError
from fastpath.store import open_store
from fastpath.store.interchange import export_samples, import_file
from fastpath.store.merge import merge
from fastpath.store.model import Sample, Sut, SwProfile
from tests.fixtures.stores import BACKENDS, make_store_url
from tests.store import dataset


def test_dataset_round_trips(any_store_url):
    with open_store(any_store_url) as store:
        dataset.write(store)
        assert store.count_samples() == len(dataset.samples())
    with open_store(any_store_url, readonly=True) as store:
        snap = dataset.snapshot(store)
    assert snap["samples"] == sorted(dataset.samples(), key=repr)
    assert snap["suts"] == sorted(dataset.SUTS, key=repr)
    assert snap["swprofiles"] == sorted(dataset.SWPROFILES, key=repr)
    assert snap["benchmarks"] == sorted(dataset.BENCHMARKS, key=repr)
    assert snap["resultclasses"] == sorted(dataset.RESULTCLASSES, key=repr)
    assert snap["sessions"] == sorted(dataset.SESSIONS, key=repr)
    assert snap["errors"] == sorted(dataset.ERRORS, key=repr)


def test_writes_are_idempotent_and_duplicates_skipped(any_store_url):
    with open_store(any_store_url) as store:
        dataset.write(store)
        for o in dataset.SUTS:
            store.put_sut(o)                       # equal content: no-op
        assert store.append_samples(dataset.samples()) == 0
        store.append_sample(dataset.samples()[3])
        for e in dataset.ERRORS:
            store.record_error(e)
        assert store.count_samples() == len(dataset.samples())
        assert len(store.errors()) == len(dataset.ERRORS)


def test_conflicting_object_and_unknown_reference_are_refused(any_store_url):
    with open_store(any_store_url) as store:
        dataset.write(store)
        with pytest.raises(StoreError, match=r"swprofile '6.9.0' already in .*\(kernel_git_sha"):
            store.put_swprofile(SwProfile("6.9.0", "6.9.0", "ffffffffffff"))
        with pytest.raises(StoreError, match="unknown swprofile 'nope'"):
            store.append_sample(Sample(dataset.SUTS[0].id, "nope", "fp/syscall", "ns_per_call", 0, 0, 1.0))
        assert store.count_samples() == len(dataset.samples())


def test_session_update(any_store_url):
    with open_store(any_store_url) as store:
        dataset.write(store)
        s = dataset.SESSIONS[0]
        changed = type(s)(**{**s.__dict__, "status": "failed", "finished": "2026-11-28T11:00:00Z"})
        store.put_session(changed)
        assert changed in store.sessions(sut=s.sut, swprofile=s.swprofile)
        assert s not in store.sessions()
        assert len(store.sessions()) == len(dataset.SESSIONS)


def test_readonly_refuses_writes_and_missing_store(any_store_url):
    with open_store(any_store_url) as store:
        dataset.write(store)
    with open_store(any_store_url, readonly=True) as store:
        with pytest.raises(StoreReadOnlyError, match="read-only"):
            store.put_sut(Sut("new"))
        with pytest.raises(StoreReadOnlyError):
            store.append_sample(dataset.samples()[0])


def test_sample_columns_match_samples(any_store_url):
    with open_store(any_store_url) as store:
        dataset.write(store)
        wanted = ["6.8.0-baseline", "6.9.0"]
        cols = store.sample_columns(swprofiles=wanted)
        expected = [s for s in dataset.samples() if s.swprofile in wanted]
        assert len(cols) == len(expected)
        got = sorted((cols.suts[cols.sut[i]], cols.swprofiles[cols.swprofile[i]],
                      *cols.resultclasses[cols.resultclass[i]], int(cols.session[i]),
                      int(cols.repeat[i]), float(cols.value[i])) for i in range(len(cols)))
        assert got == sorted((s.sut, s.swprofile, s.benchmark, s.resultclass, s.session, s.repeat,
                              s.value) for s in expected)
        groups = cols.groups()
        idx = groups[("fp/syscall", "ns_per_call", "6.9.0")]
        assert sorted(cols.value[idx]) == sorted(s.value for s in expected if s.swprofile == "6.9.0"
                                                 and s.resultclass == "ns_per_call")
        assert cols.value.dtype == np.float64 and cols.session.dtype == np.int64
        assert len(store.sample_columns(swprofiles=["absent"])) == 0
        one = store.sample_columns(sut=dataset.SUTS[1].id, benchmark="sysbench/thread")
        assert len(one) == sum(1 for s in dataset.samples()
                               if s.sut == dataset.SUTS[1].id and s.benchmark == "sysbench/thread")


@pytest.mark.db
def test_same_data_through_all_four_backends(tmp_path, fresh_db_url):
    """csv -> sqlite -> mysql -> postgresql -> csv by merge; every hop holds identical data."""
    urls = [make_store_url(kind, tmp_path, fresh_db_url) for kind in BACKENDS]
    urls.append(str(tmp_path / "back-to-csv"))
    with open_store(urls[0]) as store:
        dataset.write(store)
        first = dataset.snapshot(store)
    for src, dst in zip(urls, urls[1:]):
        report = merge([src], dst)
        assert report.samples_new == len(dataset.samples())
        with open_store(dst, readonly=True) as store:
            assert dataset.snapshot(store) == first, f"{src} -> {dst} changed the data"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_recreates_samples(any_store_url, tmp_path, fmt):
    with open_store(any_store_url) as store:
        dataset.write(store)
        out = io.StringIO()
        assert export_samples(store, out, fmt) == len(dataset.samples())
    path = tmp_path / f"export.{fmt}"
    path.write_text(out.getvalue())
    target = f"sqlite:///{tmp_path / 'imported.db'}"
    report = import_file(target, str(path))
    assert report.new == len(dataset.samples())
    with open_store(target, readonly=True) as store:
        assert sorted(store.samples(), key=repr) == sorted(dataset.samples(), key=repr)
        shas = {p.id: p.kernel_git_sha for p in store.swprofiles()}
        assert shas["6.9.0"] == "0123456789ab"
        assert sorted(store.resultclasses(), key=repr) == sorted(dataset.RESULTCLASSES, key=repr)
