"""SQLAlchemy engines for the three SQL backends, and the one place driver errors become
StoreError (with the password masked): ``translated`` turns SQLAlchemy's and the drivers' own
exceptions (raised by the raw DBAPI cursors of the bulk paths) into one line; a deadlock
becomes StoreBusyError, which ``base.retried`` runs again."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from fastpath.errors import StoreBusyError, StoreError, UserError
from fastpath.store.url import StoreUrl

CONNECT_TIMEOUT = 5  # seconds, for MySQL and PostgreSQL
READ_TIMEOUT = 60    # seconds without a byte from the server: MySQL and PostgreSQL
SQLITE_BUSY_TIMEOUT = 60  # seconds a SQLite writer waits for another one
DEADLOCK_RETRIES = 5
_DEADLOCK_CODES = {1213}                          # MySQL: deadlock
_DEADLOCK_STATES = {"40P01", "40001"}             # PostgreSQL: deadlock, serialization failure


def make_engine(u: StoreUrl, readonly: bool) -> Engine:
    """The engine of a store URL. MySQL and PostgreSQL URLs may set ``?connect_timeout=S``
    (default CONNECT_TIMEOUT) and ``?read_timeout=S`` (default READ_TIMEOUT): a server that
    sends nothing for that long (a dead or blackholed link) fails the operation."""
    if u.scheme == "sqlite":
        return _sqlite_engine(u, readonly)
    query = dict(u.query)
    connect = _seconds(u, query, "connect_timeout", CONNECT_TIMEOUT)
    read = _seconds(u, query, "read_timeout", READ_TIMEOUT)
    if u.scheme == "mysql":
        query.setdefault("charset", "utf8mb4")
        _check_charset(u, query["charset"])
        url = URL.create("mysql+pymysql", u.user or None, u.password or None, u.host, u.port or 3306,
                         u.database, query)
        return create_engine(url, pool_pre_ping=True, connect_args={
            "connect_timeout": connect, "read_timeout": read, "write_timeout": read})
    url = URL.create("postgresql+psycopg", u.user or None, u.password or None, u.host,
                     u.port or 5432, u.database, query)
    engine = create_engine(url, connect_args={"connect_timeout": connect}, pool_pre_ping=True)

    @event.listens_for(engine, "do_connect")
    def _timed(_dialect, _record, cargs, cparams):
        from fastpath.store.pgtimeout import TimedConnection
        return TimedConnection.connect_timed(read, *cargs, **cparams)

    return engine


def _seconds(u: StoreUrl, query: dict, key: str, default: int) -> int:
    text = query.pop(key, None)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"store URL {u.masked}: {key} must be a whole number of seconds >= 1, "
                        f"not '{text}'")
    return value


def _check_charset(u: StoreUrl, name: str) -> None:
    from pymysql.charset import charset_by_name
    if charset_by_name(name) is None:
        raise UserError(f"store URL {u.masked}: unknown MySQL charset '{name}' "
                        f"(leave it out for utf8mb4)")


def _sqlite_engine(u: StoreUrl, readonly: bool) -> Engine:
    path = u.path
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a SQLite file (a CSV store is given by its path)")
    if readonly and not os.path.exists(path):
        raise StoreError(f"no result store at {u.masked}: file {path} does not exist")
    if not readonly and not os.path.isdir(os.path.dirname(path)):
        raise StoreError(f"cannot create {u.masked}: directory {os.path.dirname(path)} does not exist")
    uri = f"file:{path}?mode={'ro' if readonly else 'rwc'}"
    if readonly and _unchangeable(path):
        uri += "&immutable=1"

    def connect():
        return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT,
                               check_same_thread=False, isolation_level=None)

    engine = create_engine("sqlite://", creator=connect, poolclass=QueuePool)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        if not readonly:
            _wal(cur)                                 # readers never block the writer
        cur.execute("PRAGMA synchronous=FULL")        # a committed sample is on disk
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if not readonly else "BEGIN")

    return engine


def _unchangeable(path: str) -> bool:
    """True when no writer can change the file: its directory is not writable (a read-only
    mount or directory) and it has no write-ahead log. A WAL-mode reader then cannot create
    the -shm file it needs, so it opens the file as immutable (no locks, no -shm) instead."""
    wal = f"{path}-wal"
    return (not os.access(os.path.dirname(path) or ".", os.W_OK)
            and not (os.path.exists(wal) and os.path.getsize(wal)))


def _wal(cur) -> None:
    """PRAGMA journal_mode=WAL, waiting up to the busy timeout: SQLite answers "database is
    locked" at once, without calling the busy handler, while another connection holds a
    write transaction in rollback-journal mode (a new file being written by someone else)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def reason(err: BaseException, password: str = "") -> str:
    """A driver exception's first line, without the password."""
    orig = getattr(err, "orig", None) or err
    args = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):     # PyMySQL: (code, message)
        text = f"{args[1]} (MySQL error {args[0]})"
    else:
        text = str(orig)
    text = (text.strip().splitlines() or [type(orig).__name__])[0]
    if password:
        text = text.replace(password, "***")
    return text


def _driver_errors() -> tuple[type, ...]:
    """The base exception classes of the drivers loaded so far (a driver not imported
    cannot have raised)."""
    found: list[type] = [SQLAlchemyError, sqlite3.Error]
    if "pymysql" in sys.modules:
        found.append(sys.modules["pymysql"].err.Error)
    if "psycopg" in sys.modules:
        found.append(sys.modules["psycopg"].Error)
    return tuple(found)


def deadlock(err: BaseException | None) -> BaseException | None:
    """The deadlock this error is, or was raised while handling (InnoDB rolls the whole
    transaction back, so the savepoint rollback that follows fails with 1305), or None."""
    while err is not None:
        orig = getattr(err, "orig", None) or err
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], int) and args[0] in _DEADLOCK_CODES:
            return err
        if getattr(orig, "sqlstate", None) in _DEADLOCK_STATES:
            return err
        err = err.__context__
    return None


def interrupted(err: BaseException) -> BaseException | None:
    """The KeyboardInterrupt (or SystemExit) this error was raised while handling, if any:
    a driver whose socket read was interrupted fails again on the rollback that follows
    (PyMySQL: error 0), and that second error must not hide the interrupt."""
    seen = err.__context__
    while seen is not None:
        if isinstance(seen, (KeyboardInterrupt, SystemExit)):
            return seen
        seen = seen.__context__
    return None


@contextlib.contextmanager
def translated(what: str, u: StoreUrl):
    """Turn any SQLAlchemy/driver error inside the block into one StoreError line
    (StoreBusyError for a deadlock); an interrupt stays an interrupt."""
    try:
        yield
    except _driver_errors() as err:
        stopped = interrupted(err)
        if stopped is not None:
            raise stopped from None
        victim = deadlock(err)
        if victim is not None:
            raise StoreBusyError(f"{what} {u.masked}: {reason(victim, u.password)}") from None
        raise StoreError(f"{what} {u.masked}: {reason(err, u.password)}") from None
