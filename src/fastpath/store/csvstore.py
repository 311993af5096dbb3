"""The CSV directory store: one UTF-8 CSV file per table, each with a header row.

    DIR/meta.csv           key,value (schema_version)
    DIR/suts.csv, swprofiles.csv, benchmarks.csv, resultclasses.csv, sessions.csv
                           whole-file rewrites (temp file + fsync + os.replace)
    DIR/samples.csv        sut,swprofile,benchmark,resultclass,session,repeat,value,timestamp
    DIR/errors.csv         append-only; samples.csv too: one write + fsync per append
    DIR/.lock              fcntl lock held by the one writer (holds its pid)
    DIR/.transaction       while a transaction() is open: the committed sizes of the
                           append-only files (see csvfiles.Journal)

Columns are the fields of the model dataclasses (model.py); tuples and dicts are JSON text.
Values are written with ``repr`` so floats round-trip exactly.

Crash safety: a writer that dies mid-append can leave a torn last line (no trailing
newline). That line was never acknowledged, so it is dropped with a warning: a writer
truncates it away when it opens the store, a reader skips it. Any other malformed line
(wrong number of fields, a value that does not parse) is corruption and raises StoreError
naming file:line.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import logging
import os
import threading
from collections.abc import Iterable, Iterator

from fastpath.errors import StoreError, StoreReadOnlyError, StoreVersionError
from fastpath.store import codec
from fastpath.store.base import SCHEMA_VERSION, Store
from fastpath.store.csvcolumns import CsvColumnReads
from fastpath.store.csvfiles import (Appender, DirLock, Journal, complete_size, format_rows,
                                     read_text, rewrite)
from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)
from fastpath.store.url import StoreUrl

log = logging.getLogger(__name__)
APPEND_TABLES = ("samples", "errors")
HEADERS = {name: codec.columns(cls) for name, cls in codec.OBJECT_TABLES.items()}
HEADERS["samples"] = codec.SAMPLE_COLUMNS


class CsvStore(CsvColumnReads, Store):
    def __init__(self, parsed: StoreUrl, readonly: bool = False):
        self.url, self.readonly, self.dir = parsed.masked, readonly, parsed.path
        self._lock = None
        self._appenders: dict[str, Appender] = {}
        self._sample_keys: set | None = None
        self._mutex = threading.RLock()     # orders this process's threads (one writer per store)
        self._journal, self._in_tx = Journal(self.dir), False
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
                f"supports ({SCHEMA_VERSION}): upgrade fastpath to use it")
        sizes = None if self.readonly else self._journal.sizes()
        if sizes is not None:
            log.warning("%s: dropping what an interrupted transaction (e.g. an import) appended",
                        self.dir)
            self._journal.roll_back(self.dir, sizes)
        for table, header in HEADERS.items():
            path = self._file(table)
            if not os.path.exists(path):
                if not self.readonly:
                    rewrite(path, header, [])
            elif not self.readonly and table in APPEND_TABLES:
                self._drop_torn_tail(path)

    def _complete(self, path: str) -> tuple[int, int]:
        """complete_size(path), limited to what is committed while another process has a
        transaction open (or left one behind)."""
        good, size = complete_size(path)
        if not self._in_tx:
            sizes = self._journal.sizes()
            if sizes and os.path.basename(path) in sizes:
                good = min(good, sizes[os.path.basename(path)])
        return good, size

    @contextlib.contextmanager
    def transaction(self):
        with self._mutex:
            self._writable()
            if self._in_tx:
                yield self
                return
            saved = {t: dict(v) for t, v in self.objects.items()}
            sizes = self._journal.begin(self.dir, [f"{t}.csv" for t in APPEND_TABLES])
            self._in_tx = True
            try:
                yield self
            except BaseException:
                self._in_tx = False
                self._undo(saved, sizes)
                raise
            finally:
                self._in_tx = False
            self._journal.end()

    def _undo(self, saved: dict, sizes: dict[str, int]) -> None:
        """Put the object tables back as they were, then cut the appended files back (the
        journal stays, for the next writer, if that fails too)."""
        self._sample_keys = None
        for table, objs in saved.items():
            if table not in APPEND_TABLES and self.objects[table] != objs:
                with contextlib.suppress(StoreError):
                    rewrite(self._file(table), HEADERS[table],
                            (codec.to_row(o).values() for o in objs.values()))
            self.objects[table] = objs
        with contextlib.suppress(StoreError):
            self._journal.roll_back(self.dir, sizes)

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
        good, size = self._complete(path)
        if good < size and complete_size(path)[0] == size:
            log.warning("%s: ignoring what an open or interrupted transaction appended", path)
        elif good < size:
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
        with self._mutex:
            self._writable()
            objs, k = self.objects[table], codec.key(obj)
            old = objs.get(k)
            if old == obj:
                return
            if old is not None and table != "sessions":
                raise StoreError(f"{kind} '{'/'.join(map(str, k))}' already in {self.url} with different "
                                 f"content ({codec.first_difference(old, obj)})")
            objs[k] = obj
            try:
                rewrite(self._file(table), HEADERS[table], (codec.to_row(o).values() for o in objs.values()))
            except StoreError:
                if old is None:
                    del objs[k]
                else:
                    objs[k] = old
                raise

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

    def new_session(self, session: Session) -> Session:
        """The next index after the pair's session rows and samples; this process holds the
        store's only write lock, and the mutex orders its threads."""
        self._require("suts", (session.sut,), "SUT", "session")
        self._require("swprofiles", (session.swprofile,), "swprofile", "session")
        with self._mutex:
            self._writable()
            pair = (session.sut, session.swprofile)
            used = [s.session for s in self.objects["sessions"].values() if (s.sut, s.swprofile) == pair]
            used += [k[4] for k in self._keys() if k[:2] == pair]
            new = dataclasses.replace(session, session=max(used, default=-1) + 1)
            self._put("sessions", new, "session")
            return new

    # -- samples and errors ------------------------------------------------------------
    def _append(self, table: str, text: str) -> None:
        """Append to DIR/table.csv; all of text is on disk, or none of it (StoreError)."""
        try:
            if table not in self._appenders:
                self._appenders[table] = Appender(self._file(table))
            self._appenders[table].append(text)
        except OSError as err:
            raise StoreError(f"cannot append to {self._file(table)}: {err.strerror}") from None

    def _keys(self) -> set:
        """The identities (sut, swprofile, benchmark, result class, session, repeat) of the
        samples on disk, read once."""
        if self._sample_keys is None:
            self._sample_keys = {(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]))
                                 for _, r in self._rows("samples", HEADERS["samples"])}
        return self._sample_keys

    def _new_samples(self, samples: Iterable[Sample]) -> list[Sample]:
        self._writable()
        self._keys()
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
        with self._mutex:
            return self._append_samples(samples)

    def _append_samples(self, samples: Iterable[Sample]) -> int:
        new = self._new_samples(samples)
        if new:
            rows = ((s.sut, s.swprofile, s.benchmark, s.resultclass, s.session, s.repeat,
                     repr(float(s.value)), s.timestamp) for s in new)
            try:
                self._append("samples", format_rows(rows))
            except StoreError:
                self._sample_keys = None   # reload from disk: the file is the truth
                raise
        return len(new)

    def record_error(self, error: ErrorRecord) -> None:
        self._writable()
        k = codec.key(error)
        with self._mutex:
            if k in self.objects["errors"]:
                return
            self._append("errors", format_rows([codec.to_row(error).values()]))
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


    def count_samples(self) -> int:
        return sum(1 for _ in self._rows("samples", HEADERS["samples"]))

    def close(self) -> None:
        for appender in self._appenders.values():
            appender.close()
        self._appenders = {}
        if self._lock is not None:
            self._lock.release()
            self._lock = None
