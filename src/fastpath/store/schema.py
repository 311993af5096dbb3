"""The SQL schema (SQLAlchemy Core) and its migrations.

Tables (identities as unique constraints; see model.py for every field):

    meta(key PK, value)                       schema_version lives here
    suts(pk, id UNIQUE, <Sut fields>)
    swprofiles(pk, id UNIQUE, <SwProfile fields>)   cmdline/sysctl/bootscript: JSON text
    benchmarks(pk, id UNIQUE, suite, name, params JSON text)
    resultclasses(pk, benchmark_pk -> benchmarks, name, unit, improvement,
                  UNIQUE(benchmark_pk, name))
    sessions(sut_pk, swprofile_pk, session, status, ..., PK(sut_pk, swprofile_pk, session))
    samples(swprofile_pk, resultclass_pk, sut_pk, session, repeat_idx, value, timestamp,
            PK in that order: reading one swprofile's samples is an index range scan)
    errors(pk, digest UNIQUE (sha1 of the content, so a merge never doubles it), <ErrorRecord fields>)

Strings compare exactly on every backend (MySQL tables use the utf8mb4_bin collation).

Migrations: ``MIGRATIONS[n]`` upgrades a store from version n to n+1; the SQL store runs
the steps it needs in one transaction when a writer opens an older store. Add a step and
bump ``base.SCHEMA_VERSION`` together.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (BigInteger, Column, Double, ForeignKey, Integer, MetaData, String, Table,
                        Text, UniqueConstraint)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

ID = 255
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql")
metadata = MetaData()
_mysql = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def _pk() -> Column:
    return Column("pk", Integer, primary_key=True, autoincrement=True)


meta = Table("meta", metadata, Column("key", String(64), primary_key=True),
             Column("value", String(ID), nullable=False), **_mysql)

suts = Table(
    "suts", metadata, _pk(), Column("id", String(ID), nullable=False, unique=True),
    Column("host_name", String(ID), nullable=False), Column("architecture", String(64), nullable=False),
    Column("cpu_count", Integer, nullable=False), Column("cpu_model", String(ID), nullable=False),
    Column("numa_nodes", Integer, nullable=False), Column("memory", BigInteger, nullable=False),
    Column("product_name", String(ID), nullable=False), **_mysql)

swprofiles = Table(
    "swprofiles", metadata, _pk(), Column("id", String(ID), nullable=False, unique=True),
    Column("kernel_name", String(ID), nullable=False), Column("kernel_git_sha", String(64), nullable=False),
    Column("userspace", Text, nullable=False), Column("cmdline", Text, nullable=False),
    Column("sysctl", Text, nullable=False), Column("bootscript", LongText, nullable=False), **_mysql)

benchmarks = Table(
    "benchmarks", metadata, _pk(), Column("id", String(ID), nullable=False, unique=True),
    Column("suite", String(ID), nullable=False), Column("name", String(ID), nullable=False),
    Column("params", LongText, nullable=False), **_mysql)

resultclasses = Table(
    "resultclasses", metadata, _pk(),
    Column("benchmark_pk", Integer, ForeignKey("benchmarks.pk"), nullable=False),
    Column("name", String(ID), nullable=False), Column("unit", String(64), nullable=False),
    Column("improvement", String(8), nullable=False),
    UniqueConstraint("benchmark_pk", "name", name="uq_resultclass"), **_mysql)

sessions = Table(
    "sessions", metadata,
    Column("sut_pk", Integer, ForeignKey("suts.pk"), primary_key=True, autoincrement=False),
    Column("swprofile_pk", Integer, ForeignKey("swprofiles.pk"), primary_key=True, autoincrement=False),
    Column("session", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False), Column("boot_id", String(64), nullable=False),
    Column("kernel_release", String(ID), nullable=False), Column("started", String(40), nullable=False),
    Column("finished", String(40), nullable=False), **_mysql)

# No FOREIGN KEYs on samples: checking three per row made bulk appends ~5x slower on
# PostgreSQL; the store resolves every reference to a pk read from these tables before writing.
samples = Table(
    "samples", metadata,
    Column("swprofile_pk", Integer, primary_key=True, autoincrement=False),
    Column("resultclass_pk", Integer, primary_key=True, autoincrement=False),
    Column("sut_pk", Integer, primary_key=True, autoincrement=False),
    Column("session", Integer, primary_key=True, autoincrement=False),
    Column("repeat_idx", Integer, primary_key=True, autoincrement=False),
    Column("value", Double, nullable=False), Column("timestamp", String(40), nullable=False),
    sqlite_with_rowid=False, **_mysql)

errors = Table(
    "errors", metadata, _pk(), Column("digest", String(40), nullable=False, unique=True),
    Column("sut", String(ID), nullable=False), Column("swprofile", String(ID), nullable=False),
    Column("stage", String(32), nullable=False), Column("message", Text, nullable=False),
    Column("benchmark", String(ID), nullable=False), Column("session", Integer, nullable=False),
    Column("output", LongText, nullable=False), Column("timestamp", String(40), nullable=False),
    **_mysql)

# version n -> step upgrading a store from n to n+1 (run inside the opener's transaction)
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}
