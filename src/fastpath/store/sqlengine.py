"""SQLAlchemy engines for the three SQL backends, and the one place driver errors become
StoreError (with the password masked)."""

from __future__ import annotations

import contextlib
import os
import sqlite3

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from fastpath.errors import StoreError
from fastpath.store.url import StoreUrl

CONNECT_TIMEOUT = 5  # seconds, for MySQL and PostgreSQL


def make_engine(u: StoreUrl, readonly: bool) -> Engine:
    if u.scheme == "sqlite":
        return _sqlite_engine(u, readonly)
    query = dict(u.query)
    if u.scheme == "mysql":
        query.setdefault("charset", "utf8mb4")
        url = URL.create("mysql+pymysql", u.user or None, u.password or None, u.host, u.port or 3306,
                         u.database, query)
    else:
        url = URL.create("postgresql+psycopg", u.user or None, u.password or None, u.host,
                         u.port or 5432, u.database, query)
    return create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT}, pool_pre_ping=True)


def _sqlite_engine(u: StoreUrl, readonly: bool) -> Engine:
    path = u.path
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a SQLite file (a CSV store is given by its path)")
    if readonly and not os.path.exists(path):
        raise StoreError(f"no result store at {u.masked}: file {path} does not exist")
    if not readonly and not os.path.isdir(os.path.dirname(path)):
        raise StoreError(f"cannot create {u.masked}: directory {os.path.dirname(path)} does not exist")
    mode = "ro" if readonly else "rwc"

    def connect():
        return sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=60,
                               check_same_thread=False, isolation_level=None)

    engine = create_engine("sqlite://", creator=connect, poolclass=QueuePool)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        if not readonly:
            cur.execute("PRAGMA journal_mode=WAL")    # readers never block the writer
        cur.execute("PRAGMA synchronous=FULL")        # a committed sample is on disk
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if not readonly else "BEGIN")

    return engine


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


@contextlib.contextmanager
def translated(what: str, u: StoreUrl):
    """Turn any SQLAlchemy/driver error inside the block into one StoreError line."""
    try:
        yield
    except SQLAlchemyError as err:
        raise StoreError(f"{what} {u.masked}: {reason(err, u.password)}") from None
    except sqlite3.Error as err:
        raise StoreError(f"{what} {u.masked}: {reason(err, u.password)}") from None
