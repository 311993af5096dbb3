"""The result store interface. Backends: csvstore.CsvStore, sqlstore.SqlStore.

Open a store with ``fastpath.store.open_store(url, readonly=False)``. A store is a
context manager; ``close()`` releases it. All reads return model objects (see
``model.py``). Writes are durable when the call returns: an acknowledged sample survives a
crash of the writer.

Writing an object (put_*) whose identity exists with equal content is a no-op; with
different content it raises StoreError naming the object and the first differing field
(put_session is the exception: it updates). A sample must refer to a SUT, swprofile and
result class already in the store (StoreError otherwise); its session row is optional.

Fast reads for statistics: ``sample_columns(...)`` returns a ``SampleColumns`` (numpy
arrays, one entry per sample), e.g. all values of two swprofiles::

    cols = store.sample_columns(swprofiles=["6.8.0-baseline", "6.9.0"])
    for (bench, rc, swp), idx in cols.groups().items():
        values, sessions = cols.value[idx], cols.session[idx]

Statistics that need only per-session aggregates (everything `result show` prints) use
``session_aggregates(...)``: one row per session with count, mean, M2, min and max, computed
where the data lives (SQL: one GROUP BY; CSV: numpy) so no sample crosses the driver::

    aggs = store.session_aggregates(swprofiles=["6.8.0-baseline", "6.9.0"])
    for (bench, rc, swp, sut), idx in aggs.groups().items():
        counts, means, m2s = aggs.count[idx], aggs.mean[idx], aggs.m2[idx]
"""

from __future__ import annotations

import abc
import contextlib
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from fastpath.errors import StoreBusyError
from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)

SCHEMA_VERSION = 1
BUSY_RETRIES = 5


def retried(fn, attempts: int = BUSY_RETRIES):
    """fn() run again (after a short random pause) while it fails with StoreBusyError (a
    deadlock victim: nothing of it was committed)."""
    for attempt in range(attempts):
        try:
            return fn()
        except StoreBusyError:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))


@dataclass
class CodedColumns:
    """Columns whose entry i names a SUT, swprofile, result class and session by code.

    String ids are coded as small ints: ``suts[sut[i]]`` is entry i's SUT id,
    ``swprofiles[swprofile[i]]`` its swprofile id, ``resultclasses[resultclass[i]]`` its
    ``(benchmark id, result class name)``. Code tables may list ids with no entry here.
    """

    suts: list[str]
    swprofiles: list[str]
    resultclasses: list[tuple[str, str]]
    sut: np.ndarray            # int64 codes into suts
    swprofile: np.ndarray      # int64 codes into swprofiles
    resultclass: np.ndarray    # int64 codes into resultclasses
    session: np.ndarray        # int64


@dataclass
class SampleColumns(CodedColumns):
    """Samples as columns: entry i of every array describes sample i (order unspecified)."""

    repeat: np.ndarray         # int64
    value: np.ndarray          # float64

    def __len__(self) -> int:
        return len(self.value)

    def groups(self) -> dict[tuple[str, str, str], np.ndarray]:
        """{(benchmark, resultclass, swprofile): index array of its samples} (non-empty only)."""
        if not len(self):
            return {}
        combined = self.resultclass * max(len(self.swprofiles), 1) + self.swprofile
        order = np.argsort(combined, kind="stable")
        keys, starts = np.unique(combined[order], return_index=True)
        out = {}
        for k, idx in zip(keys, np.split(order, starts[1:])):
            rc, swp = divmod(int(k), max(len(self.swprofiles), 1))
            bench, name = self.resultclasses[rc]
            out[(bench, name, self.swprofiles[swp])] = idx
        return out

    @classmethod
    def from_samples(cls, samples: Iterable[Sample]) -> "SampleColumns":
        codes: list[dict] = [{}, {}, {}]
        cols: list[list] = [[], [], [], [], [], []]
        for s in samples:
            for j, k in enumerate((s.sut, s.swprofile, (s.benchmark, s.resultclass))):
                cols[j].append(codes[j].setdefault(k, len(codes[j])))
            cols[3].append(s.session)
            cols[4].append(s.repeat)
            cols[5].append(s.value)
        ints = [np.asarray(c, dtype=np.int64) for c in cols[:5]]
        return cls(list(codes[0]), list(codes[1]), list(codes[2]), *ints,
                   np.asarray(cols[5], dtype=np.float64))


@dataclass
class SessionAggregates(CodedColumns):
    """Per-session aggregates: entry i describes the samples of one session of one
    (SUT, swprofile, result class); order unspecified.

    ``mean`` is the session's sum / count; ``m2`` the sum of squared deviations from that
    mean (computed two-pass or shifted, never as sum(v*v) - sum(v)**2/n, which loses digits
    to cancellation); so the sample variance of session i is ``m2[i] / (count[i] - 1)``.
    """

    count: np.ndarray          # int64, >= 1
    mean: np.ndarray           # float64
    m2: np.ndarray             # float64
    min: np.ndarray            # float64
    max: np.ndarray            # float64

    def __len__(self) -> int:
        return len(self.count)

    def groups(self) -> dict[tuple[str, str, str, str], np.ndarray]:
        """{(benchmark, resultclass, swprofile, sut): index array of its sessions, in session
        order} (non-empty only)."""
        if not len(self):
            return {}
        nsw, nsut = max(len(self.swprofiles), 1), max(len(self.suts), 1)
        key = (self.resultclass * nsw + self.swprofile) * nsut + self.sut
        order = np.lexsort((self.session, key))
        ks = key[order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        out = {}
        for idx in np.split(order, starts[1:]):
            k, si = divmod(int(key[idx[0]]), nsut)
            ri, wi = divmod(k, nsw)
            bench, name = self.resultclasses[ri]
            out[(bench, name, self.swprofiles[wi], self.suts[si])] = idx
        return out

    @classmethod
    def from_columns(cls, cols: SampleColumns) -> "SessionAggregates":
        """Aggregate columnar samples with numpy: a stable sort by (SUT, swprofile, result
        class, session), then one reduceat per statistic; M2 two-pass (exact to rounding)."""
        if not len(cols):
            empty = np.empty(0, dtype=np.int64)
            return cls(cols.suts, cols.swprofiles, cols.resultclasses, empty, empty, empty,
                       empty, empty, *(np.empty(0) for _ in range(4)))
        nsw, nsut = max(len(cols.swprofiles), 1), max(len(cols.suts), 1)
        key = (cols.resultclass * nsw + cols.swprofile) * nsut + cols.sut
        lo, hi = int(cols.session.min()), int(cols.session.max())
        if (int(key.max()) + 1) * (hi - lo + 1) < 2**62:      # one int64 key: one sort
            combined = key * (hi - lo + 1) + (cols.session - lo)
            order = (np.arange(len(combined)) if np.all(combined[1:] >= combined[:-1])
                     else np.argsort(combined, kind="stable"))
        else:
            order = np.lexsort((cols.session, key))
        k, ses, v = key[order], cols.session[order], cols.value[order]
        starts = np.flatnonzero(np.r_[True, (k[1:] != k[:-1]) | (ses[1:] != ses[:-1])])
        n = np.diff(np.r_[starts, len(v)])
        mean = np.add.reduceat(v, starts) / n
        m2 = np.add.reduceat((v - np.repeat(mean, n)) ** 2, starts)
        first = order[starts]
        return cls(cols.suts, cols.swprofiles, cols.resultclasses, cols.sut[first],
                   cols.swprofile[first], cols.resultclass[first], ses[starts], n.astype(np.int64),
                   mean, m2, np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts))


class Store(abc.ABC):
    url: str            # the URL as given, password masked (safe to print)
    readonly: bool

    # -- objects -----------------------------------------------------------------------
    @abc.abstractmethod
    def put_sut(self, sut: Sut) -> None: ...
    @abc.abstractmethod
    def put_swprofile(self, swprofile: SwProfile) -> None: ...
    @abc.abstractmethod
    def put_benchmark(self, benchmark: Benchmark) -> None: ...
    @abc.abstractmethod
    def put_resultclass(self, resultclass: ResultClass) -> None: ...
    @abc.abstractmethod
    def put_session(self, session: Session) -> None:
        """Insert or update (status, finished, boot_id, kernel_release) a session."""

    @abc.abstractmethod
    def new_session(self, session: Session) -> Session:
        """Insert ``session`` under the next free index of its (SUT, swprofile) and return it
        with that index (its own ``session`` field is ignored). The index is allocated
        atomically in the store: concurrent writers never get the same one. Free means
        above every session row and every sample of the pair (imported samples may have
        no session row)."""

    # -- samples and errors -------------------------------------------------------------
    @abc.abstractmethod
    def append_sample(self, sample: Sample) -> None:
        """Durably append one sample (what a running plan pays per sample).

        A sample whose identity exists already is ignored (not an error)."""

    @abc.abstractmethod
    def append_samples(self, samples: Iterable[Sample]) -> int:
        """Bulk-append; returns how many were new. Duplicates are skipped."""

    @abc.abstractmethod
    def record_error(self, error: ErrorRecord) -> None: ...

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager["Store"]:
        """``with store.transaction():`` every write inside commits at the end of the block,
        or none does: on an exception (and, SQL, on a kill) the block's writes are undone.
        CSV: samples and object tables are restored on an exception; a writer killed
        inside leaves a journal, and its samples are dropped by the next writer and ignored
        by readers. Blocks nest (the inner one joins the outer)."""

    # -- reads --------------------------------------------------------------------------
    @abc.abstractmethod
    def suts(self) -> list[Sut]: ...
    @abc.abstractmethod
    def swprofiles(self) -> list[SwProfile]: ...
    @abc.abstractmethod
    def benchmarks(self) -> list[Benchmark]: ...
    @abc.abstractmethod
    def resultclasses(self) -> list[ResultClass]: ...
    @abc.abstractmethod
    def sessions(self, sut: str | None = None, swprofile: str | None = None) -> list[Session]: ...
    @abc.abstractmethod
    def errors(self) -> list[ErrorRecord]: ...

    @abc.abstractmethod
    def samples(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                benchmark: str | None = None, resultclass: str | None = None) -> Iterator[Sample]:
        """Samples matching every given filter (exact ids), in no particular order."""

    def sample_columns(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                       benchmark: str | None = None,
                       resultclass: str | None = None) -> SampleColumns:
        """Same selection as samples(), as numpy columns. Every backend overrides it with a
        fast path (measured in docs/results.md, Stores: about a second for 1M samples)."""
        return SampleColumns.from_samples(self.samples(sut=sut, swprofiles=swprofiles,
                                                       benchmark=benchmark,
                                                       resultclass=resultclass))

    def session_aggregates(self, *, sut: str | None = None,
                           swprofiles: Iterable[str] | None = None, benchmark: str | None = None,
                           resultclass: str | None = None) -> SessionAggregates:
        """Same selection as samples(), aggregated per session (see SessionAggregates): what
        `result show` needs, without shipping every sample. This default aggregates
        sample_columns() with numpy; the SQL backends answer one GROUP BY instead."""
        return SessionAggregates.from_columns(self.sample_columns(
            sut=sut, swprofiles=swprofiles, benchmark=benchmark, resultclass=resultclass))

    def count_samples(self) -> int:
        """How many samples the store holds."""
        return sum(1 for _ in self.samples())

    # -- lifecycle ----------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
