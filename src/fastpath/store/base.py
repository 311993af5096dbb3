"""The result store interface. Backends: csvstore.CsvStore, sqlstore.SqlStore.

Open a store with ``fastpath.store.open_store(url, readonly=False)``. A store is a
context manager; ``close()`` releases it. All reads return model objects (see
``model.py``). Writes are durable when the call returns: an acknowledged sample survives a
crash of the writer.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator

from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)

SCHEMA_VERSION = 1


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

    # -- lifecycle ----------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
