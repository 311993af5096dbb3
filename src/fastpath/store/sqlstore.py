"""The SQL store (SQLite, MariaDB/MySQL, PostgreSQL) over SQLAlchemy Core; schema in schema.py,
engines and error translation in sqlengine.py, the columnar reads in sqlcolumns.py.

Samples refer to SUTs, swprofiles and result classes by integer keys (``pk``); this class
keeps the id <-> pk maps and reloads them when it meets an id it does not know (another
writer may have added it). Every write is one transaction, committed before the call
returns, unless it runs inside ``transaction()`` (then all of them commit at its end, each
in a savepoint); session indexes come from ``new_session``, which inserts the row under the
next free index and retries on a duplicate key; duplicate samples are skipped by the database (INSERT OR IGNORE / INSERT IGNORE /
ON CONFLICT DO NOTHING), so concurrent writers lose nothing and never double a sample.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterable, Iterator

from sqlalchemy import func, inspect, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from fastpath.errors import StoreError, StoreReadOnlyError, StoreVersionError
from fastpath.store import codec, schema as S
from fastpath.store.base import SCHEMA_VERSION, Store, retried
from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session, Sut,
                                  SwProfile)
from fastpath.store.sqlcolumns import SqlColumnReads
from fastpath.store.sqlengine import make_engine, reason, translated
from fastpath.store.url import StoreUrl

CHUNK = 20000
CREATE_RACE_TIMEOUT = 30  # seconds
_COLS = "swprofile_pk, resultclass_pk, sut_pk, session, repeat_idx, value, timestamp"
_SQLITE_INSERT = f"INSERT OR IGNORE INTO samples ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_MYSQL_INSERT = (f"INSERT IGNORE INTO samples (`{_COLS.replace(', ', '`, `')}`) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s)")
_BY_ID = {"suts": S.suts, "swprofiles": S.swprofiles, "benchmarks": S.benchmarks}


class SqlStore(SqlColumnReads, Store):
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

    def count_samples(self) -> int:
        with translated("cannot read", self.u), self._connect() as conn:
            return conn.execute(select(func.count()).select_from(S.samples)).scalar()

    def close(self) -> None:
        self.engine.dispose()
