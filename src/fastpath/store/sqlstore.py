"""The SQL store (SQLite, MariaDB/MySQL, PostgreSQL) over SQLAlchemy Core; schema in schema.py.

Samples refer to SUTs, swprofiles and result classes by integer keys (``pk``); this class
keeps the id <-> pk maps and reloads them when it meets an id it does not know (another
writer may have added it). Every write is one transaction, committed before the call
returns; duplicate samples are skipped by the database (INSERT OR IGNORE / INSERT IGNORE /
ON CONFLICT DO NOTHING), so concurrent writers lose nothing and never double a sample.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import time
import warnings
from collections.abc import Iterable, Iterator

import numpy as np
from sqlalchemy import func, inspect, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from fastpath.errors import StoreError, StoreReadOnlyError, StoreVersionError
from fastpath.store import codec, schema as S
from fastpath.store.base import SCHEMA_VERSION, SampleColumns, SessionAggregates, Store, retried
from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)
from fastpath.store.sqlengine import make_engine, reason, translated
from fastpath.store.url import StoreUrl

CHUNK = 20000
MAX_GROUP_QUERIES = 5000
CREATE_RACE_TIMEOUT = 30  # seconds
_COLS = "swprofile_pk, resultclass_pk, sut_pk, session, repeat_idx, value, timestamp"
_SQLITE_INSERT = f"INSERT OR IGNORE INTO samples ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_MYSQL_INSERT = (f"INSERT IGNORE INTO samples (`{_COLS.replace(', ', '`, `')}`) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s)")
_BY_ID = {"suts": S.suts, "swprofiles": S.swprofiles, "benchmarks": S.benchmarks}
# Per session of one (swprofile, result class, SUT): count, sum, min, max and the sums of
# v-K and (v-K)^2 for a shift K taken from the group's own samples, so that the spread
# M2 = sum((v-K)^2) - sum(v-K)^2/n keeps its digits (unshifted, sum(v*v) - sum(v)^2/n cancels
# them all away when the spread is small against the mean). A primary-key range scan grouped
# in index order: no sort. (VAR_POP is no better: MariaDB's and PostgreSQL's lose digits
# when the spread is a few thousand ulps of the mean, and SQLite has none.)
_SHIFT = "SELECT value FROM samples WHERE {where} LIMIT 1"
_AGGREGATES = ("SELECT session, COUNT(*), SUM(value), MIN(value), MAX(value), "
               "SUM((value - ({k})) * (value - ({k}))), SUM(value - ({k})) FROM samples WHERE {where} "
               "GROUP BY session ORDER BY session")
# The relative rounding error of M2 is about 1e-16 * sqrt(n) * sum((v-K)^2) / M2. A group
# whose shifted sums exceed its M2 (over all its sessions: what the statistics use) more
# than MAX_GROUP_RATIO times, or one session's more than MAX_SESSION_RATIO times (K far
# from a session with a tiny spread), is aggregated from its samples by numpy instead; so are
# values beyond +-1e150, whose squares overflow.
MAX_GROUP_RATIO = 100.0
MAX_SESSION_RATIO = 1e6
MAX_ABS_VALUE = 1e150


class SqlStore(Store):
    def __init__(self, parsed: StoreUrl, readonly: bool = False):
        self.u, self.url, self.readonly = parsed, parsed.masked, readonly
        self.engine = make_engine(parsed, readonly)
        self.pks: dict[str, dict] = {}
        self._tx = None              # the connection of an open transaction()
        self.ids: dict[str, dict] = {}
        try:
            with translated("cannot open", parsed):
                self._open_schema()
                self._reload()
        except BaseException:
            self.engine.dispose()
            raise

    # -- schema ------------------------------------------------------------------------
    def _version(self, conn) -> int | None:
        if not inspect(conn).has_table("meta"):
            return None
        value = conn.execute(select(S.meta.c.value).where(S.meta.c.key == "schema_version")).scalar()
        if value is None:
            return None     # being created by another writer, or an interrupted creation
        try:
            return int(value)
        except (TypeError, ValueError):
            raise StoreError(f"store {self.url}: meta table has no valid schema_version") from None

    def _open_schema(self) -> None:
        with self.engine.begin() as conn:
            version = self._version(conn)
        if version is None and not self.readonly:
            version = self._create_schema()
        if version is None:
            raise StoreError(f"no fastpath store at {self.url} (no meta table): "
                             f"write to it once (e.g. result import) to create it")
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"store {self.url} has schema version {version}, newer than this fastpath "
                f"supports ({SCHEMA_VERSION}): upgrade fastpath to use it")
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _create_schema(self) -> int:
        """Create the tables and the schema_version row. Two writers may do this at once
        (MySQL DDL is not transactional): on an 'already exists' or duplicate error, look
        again and retry (create_all skips tables that exist) until the other one is done."""
        deadline = time.monotonic() + CREATE_RACE_TIMEOUT
        while True:
            try:
                with self._schema_txn() as conn:
                    version = self._version(conn)
                    if version is not None:
                        return version
                    S.metadata.create_all(conn)
                    conn.execute(S.meta.insert(), [{"key": "schema_version", "value": str(SCHEMA_VERSION)}])
                return SCHEMA_VERSION
            except SQLAlchemyError as err:
                text = reason(err, self.u.password)
                racing = isinstance(err, IntegrityError) or any(
                    word in text for word in ("already exists", "uplicate", "concurrent"))
                if not racing or time.monotonic() > deadline:
                    raise StoreError(f"cannot create the store tables in {self.url}: {text}") from None
                time.sleep(0.2)

    @contextlib.contextmanager
    def _schema_txn(self):
        """A transaction holding a server-side lock that serialises schema creation and
        migration between writers (SQLite: BEGIN IMMEDIATE does it already)."""
        dialect = self.engine.dialect.name
        with self.engine.connect() as conn:
            if dialect == "mysql":
                conn.exec_driver_sql(f"SELECT GET_LOCK('fastpath_schema', {CREATE_RACE_TIMEOUT})")
            elif dialect == "postgresql":     # released at the end of the transaction
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7231906111)")
            try:
                yield conn
                conn.commit()
            finally:
                if dialect == "mysql":
                    conn.rollback()
                    conn.exec_driver_sql("SELECT RELEASE_LOCK('fastpath_schema')")
                    conn.commit()

    def _migrate(self, version: int) -> None:
        if self.readonly:
            raise StoreVersionError(
                f"store {self.url} has schema version {version}, older than this fastpath "
                f"({SCHEMA_VERSION}): open it once for writing to migrate it")
        with self._schema_txn() as conn:
            current = self._version(conn)
            for step in range(current, SCHEMA_VERSION):
                if step not in S.MIGRATIONS:
                    raise StoreVersionError(f"store {self.url}: no migration from schema version {step}")
                S.MIGRATIONS[step](conn)
            conn.execute(S.meta.update().where(S.meta.c.key == "schema_version")
                         .values(value=str(SCHEMA_VERSION)))

    # -- transactions ------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """Every write inside the block commits together at its end, or none does (an
        exception, a kill: the database rolls it back). Reads inside see the block's writes."""
        self._writable()
        if self._tx is not None:
            yield self
            return
        with translated("cannot write to", self.u):
            conn = self.engine.connect()
            conn.begin()
        self._tx = conn
        try:
            yield self
            with translated("cannot commit to", self.u):
                conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.rollback()
            self._tx = None
            with contextlib.suppress(Exception):
                self._reload()     # forget the pks of objects that were rolled back
            raise
        finally:
            self._tx = None
            with contextlib.suppress(Exception):
                conn.close()

    @contextlib.contextmanager
    def _begin(self):
        """A connection in a transaction of its own, or a savepoint of the open transaction
        (so that a failed statement, e.g. a raced insert, undoes only itself)."""
        if self._tx is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self._tx.begin_nested():
                yield self._tx

    @contextlib.contextmanager
    def _connect(self):
        if self._tx is None:
            with self.engine.connect() as conn:
                yield conn
        else:
            yield self._tx

    # -- id <-> pk maps ----------------------------------------------------------------
    def _reload(self) -> None:
        with self._connect() as conn:
            for name, table in _BY_ID.items():
                self.pks[name] = dict(conn.execute(select(table.c.id, table.c.pk)).all())
            rc = S.resultclasses
            rows = conn.execute(select(S.benchmarks.c.id, rc.c.name, rc.c.pk)
                                .join_from(rc, S.benchmarks, rc.c.benchmark_pk == S.benchmarks.c.pk))
            self.pks["resultclasses"] = {(b, n): pk for b, n, pk in rows}
        self.ids = {name: {pk: k for k, pk in m.items()} for name, m in self.pks.items()}

    def _pk(self, table: str, k, what: str) -> int:
        if k not in self.pks[table]:
            self._reload()
            if k not in self.pks[table]:
                shown = "/".join(k) if isinstance(k, tuple) else k
                kind = {"suts": "SUT", "swprofiles": "swprofile", "benchmarks": "benchmark",
                        "resultclasses": "result class"}[table]
                raise StoreError(f"{what} refers to unknown {kind} '{shown}' in {self.url}; add it first")
        return self.pks[table][k]

    # -- objects -----------------------------------------------------------------------
    def _writable(self) -> None:
        if self.readonly:
            raise StoreReadOnlyError(f"store {self.url} is open read-only")

    def _row(self, obj) -> dict:
        row = codec.to_row(obj)
        if isinstance(obj, ResultClass):
            row["benchmark_pk"] = self._pk("benchmarks", row.pop("benchmark"), f"result class '{obj.name}'")
        return row

    def _put(self, table: str, obj, existing, kind: str) -> None:
        self._writable()
        with translated(f"cannot write {kind} to", self.u):
            old = existing()
            if old is None:
                row = self._row(obj)
                try:
                    with self._begin() as conn:
                        conn.execute(getattr(S, table).insert(), [row])
                    return
                except IntegrityError:
                    old = existing()     # another writer inserted it meanwhile
            if old != obj:
                raise StoreError(f"{kind} '{'/'.join(map(str, codec.key(obj)))}' already in {self.url} "
                                 f"with different content ({codec.first_difference(old, obj)})")

    def _one(self, table: str, cls, k: str):
        t = _BY_ID[table]
        with self._connect() as conn:
            row = conn.execute(select(t).where(t.c.id == k)).mappings().first()
        return codec.from_row(cls, row) if row else None

    def put_sut(self, sut: Sut) -> None:
        self._put("suts", sut, lambda: self._one("suts", Sut, sut.id), "SUT")

    def put_swprofile(self, swprofile: SwProfile) -> None:
        self._put("swprofiles", swprofile, lambda: self._one("swprofiles", SwProfile, swprofile.id),
                  "swprofile")

    def put_benchmark(self, benchmark: Benchmark) -> None:
        self._put("benchmarks", benchmark, lambda: self._one("benchmarks", Benchmark, benchmark.id),
                  "benchmark")

    def put_resultclass(self, resultclass: ResultClass) -> None:
        def existing():
            return next((r for r in self.resultclasses()
                         if (r.benchmark, r.name) == (resultclass.benchmark, resultclass.name)), None)
        self._put("resultclasses", resultclass, existing, "result class")

    def put_session(self, session: Session) -> None:
        self._writable()
        row = codec.to_row(session)
        k = {"sut_pk": self._pk("suts", row.pop("sut"), "session"),
             "swprofile_pk": self._pk("swprofiles", row.pop("swprofile"), "session"),
             "session": row.pop("session")}
        t = S.sessions
        where = (t.c.sut_pk == k["sut_pk"]) & (t.c.swprofile_pk == k["swprofile_pk"]) & \
            (t.c.session == k["session"])
        with translated("cannot write session to", self.u):
            for _ in range(2):
                try:
                    with self._begin() as conn:
                        if conn.execute(select(func.count()).select_from(t).where(where)).scalar():
                            conn.execute(t.update().where(where).values(**row))
                        else:
                            conn.execute(t.insert(), [{**k, **row}])
                    return
                except IntegrityError:
                    continue    # raced with another writer's insert: update instead

    def new_session(self, session: Session) -> Session:
        self._writable()
        row = codec.to_row(session)
        sut_pk = self._pk("suts", row.pop("sut"), "session")
        swp_pk = self._pk("swprofiles", row.pop("swprofile"), "session")
        row.pop("session")
        t, samples = S.sessions, S.samples

        def attempt() -> int | None:
            with translated("cannot write session to", self.u):
                try:
                    with self._begin() as conn:
                        top = [conn.execute(select(func.max(tab.c.session)).where(
                            (tab.c.sut_pk == sut_pk) & (tab.c.swprofile_pk == swp_pk))).scalar()
                            for tab in (t, samples)]
                        index = max((x for x in top if x is not None), default=-1) + 1
                        conn.execute(t.insert(), [{"sut_pk": sut_pk, "swprofile_pk": swp_pk,
                                                   "session": index, **row}])
                    return index
                except IntegrityError:
                    return None     # another writer took that index first: look again
        deadline = time.monotonic() + CREATE_RACE_TIMEOUT
        while True:
            index = retried(attempt)
            if index is not None:
                return dataclasses.replace(session, session=index)
            if time.monotonic() > deadline:
                raise StoreError(f"cannot allocate a session in {self.url}: other writers kept "
                                 f"taking the next index for {CREATE_RACE_TIMEOUT} s")

    # -- samples and errors ------------------------------------------------------------
    def _insert_ignore(self, table):
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return table.insert().prefix_with("OR IGNORE" if dialect == "sqlite" else "IGNORE")

    def append_sample(self, sample: Sample) -> None:
        self.append_samples([sample])

    def append_samples(self, samples: Iterable[Sample]) -> int:
        self._writable()
        new, batch = 0, []
        with translated("cannot append samples to", self.u):
            for s in samples:
                batch.append(self._sample_row(s))
                if len(batch) >= CHUNK:
                    new += self._write_batch(batch)
                    batch = []
            if batch:
                new += self._write_batch(batch)
        return new

    def _sample_row(self, s: Sample) -> tuple:
        """The samples-table row of s, columns in SAMPLE_INSERT order."""
        pks = self.pks
        try:
            return (pks["swprofiles"][s.swprofile], pks["resultclasses"][(s.benchmark, s.resultclass)],
                    pks["suts"][s.sut], s.session, s.repeat, float(s.value), s.timestamp)
        except KeyError:
            return (self._pk("swprofiles", s.swprofile, "sample"),
                    self._pk("resultclasses", (s.benchmark, s.resultclass), "sample"),
                    self._pk("suts", s.sut, "sample"), s.session, s.repeat, float(s.value),
                    s.timestamp)

    def _write_batch(self, batch: list[tuple]) -> int:
        """Insert one batch in one transaction, skipping existing samples; returns how many
        rows were new. A deadlock victim is run again (nothing of it was committed)."""
        def attempt() -> int:
            with translated("cannot append samples to", self.u), self._begin() as conn:
                return self._insert_batch(conn, batch)
        # In a transaction() a deadlock ends it whole (InnoDB rolls all of it back): its
        # owner retries it, not this batch.
        return attempt() if self._tx is not None else retried(attempt)

    def _insert_batch(self, conn, batch: list[tuple]) -> int:
        """Raw DBAPI executemany (COPY on PostgreSQL): the hot path of bulk ingest."""
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return self._pg_copy(conn.connection.dbapi_connection, batch)
        sql = _SQLITE_INSERT if dialect == "sqlite" else _MYSQL_INSERT
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(sql, batch)
            return cursor.rowcount
        finally:
            cursor.close()

    @staticmethod
    def _pg_copy(raw, batch: list[tuple]) -> int:
        """PostgreSQL: COPY the batch into a session temp table, then one INSERT ... SELECT
        ON CONFLICT DO NOTHING (exact count of new rows; ~6x faster than executemany)."""
        with raw.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS fp_incoming "
                           "(LIKE samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            with cursor.copy(f"COPY fp_incoming ({_COLS}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO samples ({_COLS}) SELECT {_COLS} FROM fp_incoming "
                           "ON CONFLICT DO NOTHING")
            new = cursor.rowcount
            cursor.execute("DELETE FROM fp_incoming")    # the next batch of a transaction()
            return new

    def record_error(self, error: ErrorRecord) -> None:
        self._writable()
        row = {**codec.to_row(error), "digest": codec.error_digest(error)}
        with translated("cannot record an error in", self.u):
            with self._begin() as conn:
                conn.execute(self._insert_ignore(S.errors), [row])

    # -- reads -------------------------------------------------------------------------
    def _all(self, table, cls, stmt=None) -> list:
        with translated("cannot read", self.u), self._connect() as conn:
            rows = conn.execute(stmt if stmt is not None else select(table)).mappings().all()
        return [codec.from_row(cls, r) for r in rows]

    def suts(self) -> list[Sut]:
        return self._all(S.suts, Sut)

    def swprofiles(self) -> list[SwProfile]:
        return self._all(S.swprofiles, SwProfile)

    def benchmarks(self) -> list[Benchmark]:
        return self._all(S.benchmarks, Benchmark)

    def resultclasses(self) -> list[ResultClass]:
        rc = S.resultclasses
        stmt = select(S.benchmarks.c.id.label("benchmark"), rc.c.name, rc.c.unit, rc.c.improvement) \
            .join_from(rc, S.benchmarks, rc.c.benchmark_pk == S.benchmarks.c.pk)
        return self._all(rc, ResultClass, stmt)

    def sessions(self, sut: str | None = None, swprofile: str | None = None) -> list[Session]:
        t = S.sessions
        stmt = select(S.suts.c.id.label("sut"), S.swprofiles.c.id.label("swprofile"),
                      *[c for c in t.c if not c.name.endswith("_pk")]) \
            .join_from(t, S.suts, t.c.sut_pk == S.suts.c.pk) \
            .join_from(t, S.swprofiles, t.c.swprofile_pk == S.swprofiles.c.pk)
        if sut is not None:
            stmt = stmt.where(S.suts.c.id == sut)
        if swprofile is not None:
            stmt = stmt.where(S.swprofiles.c.id == swprofile)
        return self._all(t, Session, stmt)

    def errors(self) -> list[ErrorRecord]:
        return self._all(S.errors, ErrorRecord)

    def _sample_query(self, columns, sut, swprofiles, benchmark, resultclass):
        """select(columns) with the filters turned into pk conditions; None if nothing can match."""
        self._reload()
        t, stmt = S.samples, select(*columns)
        if swprofiles is not None:
            pks = [self.pks["swprofiles"][s] for s in swprofiles if s in self.pks["swprofiles"]]
            if not pks:
                return None
            stmt = stmt.where(t.c.swprofile_pk.in_(pks))
        if benchmark is not None or resultclass is not None:
            pks = [pk for (b, n), pk in self.pks["resultclasses"].items()
                   if (benchmark is None or b == benchmark) and (resultclass is None or n == resultclass)]
            if not pks:
                return None
            stmt = stmt.where(t.c.resultclass_pk.in_(pks))
        if sut is not None:
            if sut not in self.pks["suts"]:
                return None
            stmt = stmt.where(t.c.sut_pk == self.pks["suts"][sut])
        return stmt

    def samples(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                benchmark: str | None = None, resultclass: str | None = None) -> Iterator[Sample]:
        t = S.samples
        with translated("cannot read samples from", self.u):
            stmt = self._sample_query(
                [t.c.sut_pk, t.c.swprofile_pk, t.c.resultclass_pk, t.c.session, t.c.repeat_idx,
                 t.c.value, t.c.timestamp], sut, swprofiles, benchmark, resultclass)
            if stmt is None:
                return
            sut_ids, swp_ids, rc_ids = self.ids["suts"], self.ids["swprofiles"], self.ids["resultclasses"]
            with self._connect() as conn:
                result = conn.execution_options(yield_per=CHUNK).execute(stmt)
                for sut_pk, swp_pk, rc_pk, session, repeat, value, ts in result:
                    bench, name = rc_ids[rc_pk]
                    yield Sample(sut_ids[sut_pk], swp_ids[swp_pk], bench, name, session, repeat,
                                 value, ts)

    def sample_columns(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                       benchmark: str | None = None,
                       resultclass: str | None = None) -> SampleColumns:
        """One primary-key range query per (swprofile, result class, SUT) fetching only
        (session, repeat, value): little data crosses the driver (the fast path); a store
        with very many combinations is read with one query instead."""
        with translated("cannot read samples from", self.u):
            swps, rcs, suts = self._selected_pks(sut, swprofiles, benchmark, resultclass)
            combos = [(a, b, c) for a in swps for b in rcs for c in suts]
            if len(combos) > MAX_GROUP_QUERIES:
                return SampleColumns.from_samples(self.samples(
                    sut=sut, swprofiles=swprofiles, benchmark=benchmark, resultclass=resultclass))
            parts = self._fetch_groups(combos)
        ids = self.ids
        codes = [sorted({p[i] for p in parts}) for i in range(3)]
        index = [{v: j for j, v in enumerate(c)} for c in codes]
        sizes = [len(p[3]) for p in parts]
        data = np.concatenate([p[3] for p in parts]) if parts else np.empty((0, 3))

        def coded(i: int) -> np.ndarray:
            return np.repeat(np.array([index[i][p[i]] for p in parts], dtype=np.int64), sizes)
        return SampleColumns([ids["suts"][v] for v in codes[2]], [ids["swprofiles"][v] for v in codes[0]],
                             [ids["resultclasses"][v] for v in codes[1]], coded(2), coded(0), coded(1),
                             data[:, 0].astype(np.int64), data[:, 1].astype(np.int64),
                             np.ascontiguousarray(data[:, 2]))

    def _selected_pks(self, sut, swprofiles, benchmark, resultclass) -> tuple[list, list, list]:
        """The pks of the selected swprofiles, result classes and SUTs (after a reload)."""
        self._reload()
        pk = self.pks
        swps = [pk["swprofiles"][x] for x in (swprofiles if swprofiles is not None
                                              else pk["swprofiles"]) if x in pk["swprofiles"]]
        rcs = [v for (b, n), v in pk["resultclasses"].items()
               if (benchmark is None or b == benchmark) and (resultclass is None or n == resultclass)]
        suts = [pk["suts"][sut]] if sut in pk["suts"] else [] if sut is not None \
            else list(pk["suts"].values())
        return swps, rcs, suts

    def session_aggregates(self, *, sut: str | None = None,
                           swprofiles: Iterable[str] | None = None, benchmark: str | None = None,
                           resultclass: str | None = None) -> SessionAggregates:
        """One GROUP BY session query per (swprofile, result class, SUT), answered by the
        database: one row per session crosses the driver, not every sample. A group the
        database cannot aggregate to full precision (doubles overflowing near 1e308, a
        shift far from the data) is aggregated from its samples by numpy instead."""
        with translated("cannot read samples from", self.u):
            swps, rcs, suts = self._selected_pks(sut, swprofiles, benchmark, resultclass)
            combos = [(a, b, c) for a in swps for b in rcs for c in suts]
            if len(combos) > MAX_GROUP_QUERIES:
                return super().session_aggregates(sut=sut, swprofiles=swprofiles,
                                                  benchmark=benchmark, resultclass=resultclass)
            parts, exact = self._aggregate_groups(combos)
            if exact:
                parts += self._aggregate_samples(exact)
        if not parts:
            return SessionAggregates.from_columns(SampleColumns([], [], [], *(
                np.empty(0, dtype=np.int64) for _ in range(5)), np.empty(0)))
        ids = self.ids
        codes = [sorted({p[i] for p in parts}) for i in range(3)]
        index = [{v: j for j, v in enumerate(c)} for c in codes]
        sizes = [len(p[3]) for p in parts]

        def coded(i: int) -> np.ndarray:
            return np.repeat(np.array([index[i][p[i]] for p in parts], dtype=np.int64), sizes)

        def column(j: int) -> np.ndarray:
            return np.concatenate([p[3 + j] for p in parts])
        return SessionAggregates([ids["suts"][v] for v in codes[2]],
                                 [ids["swprofiles"][v] for v in codes[0]],
                                 [ids["resultclasses"][v] for v in codes[1]], coded(2), coded(0),
                                 coded(1), *(column(j) for j in range(6)))

    def _aggregate_groups(self, combos: list[tuple[int, int, int]]) -> tuple[list, list]:
        """([(swprofile_pk, resultclass_pk, sut_pk, session, count, mean, m2, min, max)] per
        group aggregated by the database, [combos to aggregate from their samples])."""
        parts, exact = [], []
        with self._connect() as conn:
            for combo in combos:       # ints from our own maps: safe to inline
                where = (f"swprofile_pk = {int(combo[0])} AND resultclass_pk = {int(combo[1])} "
                         f"AND sut_pk = {int(combo[2])}")
                shift = conn.exec_driver_sql(_SHIFT.format(where=where)).scalar()
                if shift is None:
                    continue           # no samples
                if abs(shift) > MAX_ABS_VALUE:
                    exact.append(combo)
                    continue
                k = float(shift) if abs(shift) >= 1e-300 else 0.0   # any K is exact; no subnormals
                try:                   # K inlined: repr round-trips a double
                    rows = conn.exec_driver_sql(_AGGREGATES.format(where=where, k=repr(k))).fetchall()
                except SQLAlchemyError as err:
                    if "out of range" not in str(err).lower():
                        raise
                    conn.rollback()    # PostgreSQL: the failed statement aborted the transaction
                    exact.append(combo)
                    continue
                session_aggs = self._session_rows(rows)
                if session_aggs is None:
                    exact.append(combo)
                else:
                    parts.append((*combo, *session_aggs))
        return parts, exact

    @staticmethod
    def _session_rows(rows: list) -> tuple[np.ndarray, ...] | None:
        """(session, count, mean, m2, min, max) from _AGGREGATES rows; None when they are not
        precise enough (see MAX_GROUP_RATIO) or not finite."""
        try:
            data = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64,
                               count=7 * len(rows)).reshape(len(rows), 7)
        except TypeError:
            return None                # a NULL: SQLite turns arithmetic giving NaN into NULL
        if not rows or not np.all(np.isfinite(data)) or np.any(np.abs(data[:, 3:5]) > MAX_ABS_VALUE):
            return None
        count, lo, hi, shifted = data[:, 1].astype(np.int64), data[:, 3], data[:, 4], data[:, 5]
        mean = data[:, 2] / count
        m2 = np.where(lo == hi, 0.0, np.maximum(shifted - data[:, 6] ** 2 / count, 0.0))
        grand = float((count * mean).sum() / count.sum())
        total = float(m2.sum() + (count * (mean - grand) ** 2).sum())
        if (shifted.sum() > MAX_GROUP_RATIO * total
                or np.any((shifted > MAX_SESSION_RATIO * m2) & (lo != hi))):
            return None
        return data[:, 0].astype(np.int64), count, mean, m2, lo, hi

    def _aggregate_samples(self, combos: list[tuple[int, int, int]]) -> list[tuple]:
        """The groups' samples aggregated per session by numpy (SessionAggregates.from_columns)."""
        parts = []
        for swp, rc, sut, matrix in self._fetch_groups(combos):
            cols = SampleColumns(["s"], ["w"], [("b", "r")], *(np.zeros(len(matrix), dtype=np.int64)
                                                               for _ in range(3)),
                                 matrix[:, 0].astype(np.int64), matrix[:, 1].astype(np.int64),
                                 np.ascontiguousarray(matrix[:, 2]))
            a = SessionAggregates.from_columns(cols)
            parts.append((swp, rc, sut, a.session, a.count, a.mean, a.m2, a.min, a.max))
        return parts

    def _fetch_groups(self, combos: list[tuple[int, int, int]]) -> list[tuple]:
        """[(swprofile_pk, resultclass_pk, sut_pk, float64 matrix of session, repeat, value)]."""
        parts = []
        with self._connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            mysql = self.engine.dialect.name == "mysql"
            try:
                if mysql:
                    cursor.execute("SET SESSION group_concat_max_len = 4294967295")
                for swp, rc, sut in combos:     # ints from our own maps: safe to inline
                    where = (f"FROM samples WHERE swprofile_pk = {int(swp)} AND resultclass_pk = {int(rc)} "
                             f"AND sut_pk = {int(sut)}")
                    matrix = self._mysql_group(cursor, where) if mysql else None
                    if matrix is None:
                        cursor.execute(f"SELECT session, repeat_idx, value {where}")
                        rows = cursor.fetchall()
                        matrix = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64,
                                             count=3 * len(rows)).reshape(len(rows), 3)
                    if len(matrix):
                        parts.append((swp, rc, sut, matrix))
            finally:
                cursor.close()
        return parts

    @staticmethod
    def _mysql_group(cursor, where: str) -> np.ndarray | None:
        """One group as a single GROUP_CONCAT string parsed by numpy: PyMySQL converts every
        field in Python, which makes row-wise reads of 1M samples take seconds. MariaDB and
        MySQL print a DOUBLE in its shortest round-trip form, so values are exact. None when
        the text was cut (max_allowed_packet): the caller reads rows instead."""
        cursor.execute(f"SELECT COUNT(*), GROUP_CONCAT(session, ',', repeat_idx, ',', value "
                       f"SEPARATOR ',') {where}")
        count, text = cursor.fetchone()
        if not count:
            return np.empty((0, 3))
        if text is None:
            return None
        if isinstance(text, bytes):
            text = text.decode()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            flat = np.fromstring(text, dtype=np.float64, sep=",")
        return flat.reshape(count, 3) if len(flat) == 3 * count else None

    def count_samples(self) -> int:
        with translated("cannot read", self.u), self._connect() as conn:
            return conn.execute(select(func.count()).select_from(S.samples)).scalar()

    def close(self) -> None:
        self.engine.dispose()
