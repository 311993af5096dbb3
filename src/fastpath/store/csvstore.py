"""The CSV directory store: one UTF-8 CSV file per table, each with a header row.

    DIR/meta.csv           key,value (schema_version)
    DIR/suts.csv, swprofiles.csv, benchmarks.csv, resultclasses.csv, sessions.csv
                           whole-file rewrites (temp file + fsync + os.replace)
    DIR/samples.csv        sut,swprofile,benchmark,resultclass,session,repeat,value,timestamp
    DIR/errors.csv         append-only; samples.csv too: one write + fsync per append
    DIR/.lock              fcntl lock held by the one writer (holds its pid)

Columns are the fields of the model dataclasses (model.py); tuples and dicts are JSON text.
Values are written with ``repr`` so floats round-trip exactly.

Crash safety: a writer that dies mid-append can leave a torn last line (no trailing
newline). That line was never acknowledged, so it is dropped with a warning: a writer
truncates it away when it opens the store, a reader skips it. Any other malformed line
(wrong number of fields, a value that does not parse) is corruption and raises StoreError
naming file:line.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable, Iterator

import numpy as np

from fastpath.errors import StoreError, StoreReadOnlyError, StoreVersionError
from fastpath.store import codec
from fastpath.store.base import SCHEMA_VERSION, SampleColumns, Store
from fastpath.store.csvfiles import (Appender, DirLock, complete_size, format_rows, read_text,
                                     rewrite)
from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)
from fastpath.store.url import StoreUrl

log = logging.getLogger(__name__)
APPEND_TABLES = ("samples", "errors")
HEADERS = {name: codec.columns(cls) for name, cls in codec.OBJECT_TABLES.items()}
HEADERS["samples"] = codec.SAMPLE_COLUMNS


class CsvStore(Store):
    def __init__(self, parsed: StoreUrl, readonly: bool = False):
        self.url, self.readonly, self.dir = parsed.masked, readonly, parsed.path
        self._lock = None
        self._appenders: dict[str, Appender] = {}
        self._sample_keys: set | None = None
        if os.path.exists(self.dir) and not os.path.isdir(self.dir):
            raise StoreError(f"{self.dir} is a file, not a CSV store directory "
                             f"(for a SQLite file use sqlite:///{self.dir})")
        if not os.path.isdir(self.dir):
            if readonly:
                raise StoreError(f"no result store at {self.url}: directory {self.dir} does not exist")
            try:
                os.makedirs(self.dir)
            except OSError as err:
                raise StoreError(f"cannot create CSV store {self.dir}: {err.strerror}") from None
        if not readonly:
            if not os.access(self.dir, os.W_OK):
                raise StoreError(f"CSV store {self.dir} is not writable")
            self._lock = DirLock(self.dir, self.url)
        try:
            self._open_meta()
            self.objects = {name: self._load(name) for name in codec.OBJECT_TABLES}
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------
    def _file(self, table: str) -> str:
        return os.path.join(self.dir, f"{table}.csv")

    def _open_meta(self) -> None:
        meta = self._file("meta")
        if not os.path.exists(meta):
            if any(n.endswith(".csv") for n in os.listdir(self.dir)):
                raise StoreError(f"{self.dir} is not a fastpath store: it holds CSV files but no meta.csv")
            if self.readonly:
                raise StoreError(f"no result store at {self.url}: {self.dir} is empty")
            rewrite(meta, ("key", "value"), [("schema_version", SCHEMA_VERSION)])
        rows = self._rows("meta", ("key", "value"))
        values = {row[0]: row[1] for _, row in rows}
        try:
            version = int(values["schema_version"])
        except (KeyError, ValueError):
            raise StoreError(f"{meta}: no valid schema_version row (corrupt store?)") from None
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"store {self.url} has schema version {version}, newer than this fastpath "
                f"supports ({SCHEMA_VERSION}): upgrade fastpath to read it")
        for table, header in HEADERS.items():
            path = self._file(table)
            if not os.path.exists(path):
                if not self.readonly:
                    rewrite(path, header, [])
            elif not self.readonly and table in APPEND_TABLES:
                self._drop_torn_tail(path)

    def _drop_torn_tail(self, path: str) -> None:
        good, size = complete_size(path)
        if good < size:
            log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted writer",
                        path, size - good)
            with open(path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())

    def _rows(self, table: str, header) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of every complete data row; checks the header."""
        path = self._file(table)
        if not os.path.exists(path):
            return
        good, size = complete_size(path)
        if good < size:
            log.warning("%s: ignoring a torn last line left by an interrupted writer", path)
        reader = csv.reader(io.StringIO(read_text(path, good), newline=""))
        try:
            first = next(reader, None)
            if first is None:
                if size:
                    raise StoreError(f"{path}:1: no header row")
                raise StoreError(f"{path}: empty file, expected the header {','.join(header)}")
            if tuple(first) != tuple(header):
                raise StoreError(f"{path}:1: unexpected header {','.join(first)!r}, "
                                 f"expected {','.join(header)!r}")
            for row in reader:
                if len(row) != len(header):
                    raise StoreError(f"{path}:{reader.line_num}: {len(row)} fields, expected "
                                     f"{len(header)} ({','.join(header)}) (corrupt file?)")
                yield reader.line_num, row
        except csv.Error as err:
            raise StoreError(f"{path}:{reader.line_num}: {err}") from None

    def _load(self, table: str) -> dict:
        cls, header, out = codec.OBJECT_TABLES[table], HEADERS[table], {}
        for line, row in self._rows(table, header):
            try:
                obj = codec.from_row(cls, dict(zip(header, row)))
            except ValueError as err:
                raise StoreError(f"{self._file(table)}:{line}: {err}") from None
            out[codec.key(obj)] = obj
        return out

    # -- objects -----------------------------------------------------------------------
    def _writable(self) -> None:
        if self.readonly:
            raise StoreReadOnlyError(f"store {self.url} is open read-only")

    def _put(self, table: str, obj, kind: str) -> None:
        self._writable()
        objs, k = self.objects[table], codec.key(obj)
        old = objs.get(k)
        if old == obj:
            return
        if old is not None and table != "sessions":
            raise StoreError(f"{kind} '{'/'.join(map(str, k))}' already in {self.url} with different "
                             f"content ({codec.first_difference(old, obj)})")
        objs[k] = obj
        rewrite(self._file(table), HEADERS[table], (codec.to_row(o).values() for o in objs.values()))

    def _require(self, table: str, k: tuple, kind: str, what: str) -> None:
        if k not in self.objects[table]:
            raise StoreError(f"{what} refers to unknown {kind} '{'/'.join(map(str, k))}' "
                             f"in {self.url}; add it first")

    def put_sut(self, sut: Sut) -> None:
        self._put("suts", sut, "SUT")

    def put_swprofile(self, swprofile: SwProfile) -> None:
        self._put("swprofiles", swprofile, "swprofile")

    def put_benchmark(self, benchmark: Benchmark) -> None:
        self._put("benchmarks", benchmark, "benchmark")

    def put_resultclass(self, resultclass: ResultClass) -> None:
        self._require("benchmarks", (resultclass.benchmark,), "benchmark",
                      f"result class '{resultclass.name}'")
        self._put("resultclasses", resultclass, "result class")

    def put_session(self, session: Session) -> None:
        self._require("suts", (session.sut,), "SUT", "session")
        self._require("swprofiles", (session.swprofile,), "swprofile", "session")
        self._put("sessions", session, "session")

    # -- samples and errors ------------------------------------------------------------
    def _appender(self, table: str) -> Appender:
        if table not in self._appenders:
            self._appenders[table] = Appender(self._file(table))
        return self._appenders[table]

    def _new_samples(self, samples: Iterable[Sample]) -> list[Sample]:
        self._writable()
        if self._sample_keys is None:
            self._sample_keys = {(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]))
                                 for _, r in self._rows("samples", HEADERS["samples"])}
        new, checked = [], set()
        for s in samples:
            k = codec.key(s)
            if k in self._sample_keys:
                continue
            if (s.sut, s.swprofile, s.benchmark, s.resultclass) not in checked:
                self._require("suts", (s.sut,), "SUT", "sample")
                self._require("swprofiles", (s.swprofile,), "swprofile", "sample")
                self._require("resultclasses", (s.benchmark, s.resultclass), "result class", "sample")
                checked.add((s.sut, s.swprofile, s.benchmark, s.resultclass))
            self._sample_keys.add(k)
            new.append(s)
        return new

    def append_sample(self, sample: Sample) -> None:
        self.append_samples([sample])

    def append_samples(self, samples: Iterable[Sample]) -> int:
        new = self._new_samples(samples)
        if new:
            rows = ((s.sut, s.swprofile, s.benchmark, s.resultclass, s.session, s.repeat,
                     repr(float(s.value)), s.timestamp) for s in new)
            try:
                self._appender("samples").append(format_rows(rows))
            except OSError as err:
                self._sample_keys = None   # reload from disk: the file is the truth
                raise StoreError(f"cannot append to {self._file('samples')}: {err.strerror}") from None
        return len(new)

    def record_error(self, error: ErrorRecord) -> None:
        self._writable()
        k = codec.key(error)
        if k in self.objects["errors"]:
            return
        self._appender("errors").append(format_rows([codec.to_row(error).values()]))
        self.objects["errors"][k] = error

    # -- reads -------------------------------------------------------------------------
    def suts(self) -> list[Sut]:
        return list(self.objects["suts"].values())

    def swprofiles(self) -> list[SwProfile]:
        return list(self.objects["swprofiles"].values())

    def benchmarks(self) -> list[Benchmark]:
        return list(self.objects["benchmarks"].values())

    def resultclasses(self) -> list[ResultClass]:
        return list(self.objects["resultclasses"].values())

    def sessions(self, sut: str | None = None, swprofile: str | None = None) -> list[Session]:
        return [s for s in self.objects["sessions"].values()
                if (sut is None or s.sut == sut) and (swprofile is None or s.swprofile == swprofile)]

    def errors(self) -> list[ErrorRecord]:
        return list(self.objects["errors"].values())

    def _sample_rows(self, sut, swprofiles, benchmark, resultclass):
        wanted = set(swprofiles) if swprofiles is not None else None
        for line, r in self._rows("samples", HEADERS["samples"]):
            if ((wanted is None or r[1] in wanted) and (sut is None or r[0] == sut)
                    and (benchmark is None or r[2] == benchmark)
                    and (resultclass is None or r[3] == resultclass)):
                yield line, r

    def samples(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                benchmark: str | None = None, resultclass: str | None = None) -> Iterator[Sample]:
        for line, r in self._sample_rows(sut, swprofiles, benchmark, resultclass):
            try:
                yield Sample(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), float(r[6]), r[7])
            except ValueError as err:
                raise StoreError(f"{self._file('samples')}:{line}: {err} (corrupt file?)") from None

    def sample_columns(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                       benchmark: str | None = None,
                       resultclass: str | None = None) -> SampleColumns:
        swprofiles = list(swprofiles) if swprofiles is not None else None
        codes: list[dict] = [{}, {}, {}]
        cols: list[list] = [[], [], [], [], [], []]
        a0, a1, a2, a3, a4, a5 = (c.append for c in cols)
        c0, c1, c2 = (c.setdefault for c in codes)
        for _, r in self._sample_rows(sut, swprofiles, benchmark, resultclass):
            a0(c0(r[0], len(codes[0])))
            a1(c1(r[1], len(codes[1])))
            a2(c2((r[2], r[3]), len(codes[2])))
            a3(r[4])
            a4(r[5])
            a5(r[6])
        try:
            numbers = [np.array(cols[3], dtype=np.int64), np.array(cols[4], dtype=np.int64),
                       np.array(cols[5], dtype=np.float64)]
        except ValueError:   # find and name the bad line
            for _ in self.samples(sut=sut, swprofiles=swprofiles, benchmark=benchmark,
                                  resultclass=resultclass):
                pass
            raise
        ints = [np.asarray(c, dtype=np.int64) for c in cols[:3]]
        return SampleColumns(list(codes[0]), list(codes[1]), list(codes[2]), *ints, *numbers)

    def count_samples(self) -> int:
        return sum(1 for _ in self._rows("samples", HEADERS["samples"]))

    def close(self) -> None:
        for appender in self._appenders.values():
            appender.close()
        self._appenders = {}
        if self._lock is not None:
            self._lock.release()
            self._lock = None
