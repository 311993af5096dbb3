"""SQL stores on SQLite, MariaDB and PostgreSQL: versions, migrations, access rights, concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import create_engine, text

from fastpath.cli.main import main
from fastpath.errors import StoreError, StoreVersionError
from fastpath.store import open_store, schema
from fastpath.store import base as store_base
from fastpath.store import sqlstore
from fastpath.store.merge import merge
from fastpath.store.model import Sut
from tests.fixtures.stores import make_store_url
from tests.store import dataset

SQL_KINDS = ["sqlite", "mysql", "postgresql"]


def _raw_engine(url: str):
    u = url.replace("mysql://", "mysql+pymysql://").replace("postgresql://", "postgresql+psycopg://")
    return create_engine(u)


DB_KINDS = [pytest.param(k, marks=pytest.mark.db) if k != "sqlite" else k for k in SQL_KINDS]


@pytest.fixture(params=DB_KINDS)
def sql_url(request, tmp_path, fresh_db_url):
    return make_store_url(request.param, tmp_path, fresh_db_url)


def test_schema_version_is_stored_and_newer_refused(sql_url, capsys):
    open_store(sql_url).close()
    engine = _raw_engine(sql_url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT value FROM meta WHERE " + ("`key`" if "mysql" in sql_url
                                 else '"key"') + " = 'schema_version'")).scalar() == "1"
        conn.execute(schema.meta.update().values(value="7"))
    engine.dispose()
    with pytest.raises(StoreVersionError, match="schema version 7, newer than this fastpath supports"):
        open_store(sql_url, readonly=True)
    assert main(["result", "list", sql_url, "--object", "sut"]) == 3
    assert "upgrade fastpath" in capsys.readouterr().err


def test_older_store_is_migrated_in_a_transaction(sql_url, monkeypatch):
    with open_store(sql_url) as store:
        dataset.write(store)

    def step_1_to_2(conn):
        conn.execute(schema.meta.insert(), [{"key": "migrated", "value": "yes"}])

    monkeypatch.setattr(store_base, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(sqlstore, "SCHEMA_VERSION", 2)
    with pytest.raises(StoreVersionError, match="older than this fastpath .* open it once for writing"):
        open_store(sql_url, readonly=True)
    with pytest.raises(StoreVersionError, match="no migration from schema version 1"):
        open_store(sql_url)
    monkeypatch.setitem(schema.MIGRATIONS, 1, step_1_to_2)
    open_store(sql_url).close()
    engine = _raw_engine(sql_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(schema.meta.select()).all())
    engine.dispose()
    assert rows == {"schema_version": "2", "migrated": "yes"}
    with open_store(sql_url, readonly=True) as store:
        assert store.count_samples() == len(dataset.samples())


def test_empty_database_is_not_a_store_for_readers(sql_url, capsys):
    if sql_url.startswith("sqlite"):
        _raw_engine(sql_url).connect().close()   # an empty SQLite file
    assert main(["result", "list", sql_url, "--object", "sut"]) == 3
    assert "no fastpath store at" in capsys.readouterr().err


@pytest.mark.db
@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_select_only_user_reads_and_merges_but_cannot_write(kind, db_server, fresh_db_url, tmp_path,
                                                           capsys):
    server = db_server(kind)
    owner_url = fresh_db_url(kind)
    database = owner_url.rsplit("/", 1)[1]
    with open_store(owner_url) as store:
        dataset.write(store)
    user = f"ro_{database}"
    if kind == "mysql":
        server.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'S3cr3t-pw'",
                   f"GRANT SELECT ON {database}.* TO '{user}'@'%'")
    else:
        server.sql(f"CREATE ROLE {user} LOGIN PASSWORD 'S3cr3t-pw'")
        server.sql(f"GRANT USAGE ON SCHEMA public TO {user}",
                   f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}", database=database)
    try:
        ro_url = server.url(database, user, "S3cr3t-pw")
        with open_store(ro_url, readonly=True) as store:
            assert dataset.snapshot(store)["samples"] == sorted(dataset.samples(), key=repr)
        out = f"sqlite:///{tmp_path / 'copy.db'}"
        assert merge([ro_url], out).samples_new == len(dataset.samples())
        assert main(["result", "merge", ro_url, "--output", out]) == 0
        assert "merged 0 new samples" in capsys.readouterr().out
        with open_store(ro_url) as store:   # a writer on a SELECT-only user: refused at the write
            with pytest.raises(StoreError, match=r"cannot write SUT to .*:\*\*\*@.*denied"):
                store.put_sut(Sut("new"))
        status = main(["result", "import", ro_url, str(tmp_path / "none.csv")])
        err = capsys.readouterr().err
        assert status == 1 and "S3cr3t" not in err
    finally:
        if kind == "mysql":
            server.sql(f"DROP USER '{user}'@'%'")
        else:
            server.drop_database(database)
            server.sql(f"DROP ROLE {user}")


@pytest.mark.db
def test_wrong_password_and_unreachable_server_name_url_masked(db_server, fresh_db_url, capsys):
    server = db_server("mysql")
    database = fresh_db_url("mysql").rsplit("/", 1)[1]
    user = f"pw_{database}"
    server.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-one'",
               f"GRANT ALL ON {database}.* TO '{user}'@'%'")
    try:
        bad = server.url(database, user, "Wr0ngPassw0rd")
        status = main(["result", "list", bad, "--object", "sut"])
        err = capsys.readouterr().err
        assert status == 3 and err.count("\n") == 1
        assert "Access denied" in err and f"mysql://{user}:***@127.0.0.1:3306/{database}" in err
        assert "Wr0ngPassw0rd" not in err
    finally:
        server.sql(f"DROP USER '{user}'@'%'")


@pytest.mark.parametrize("url", ["mysql://u:Hunter2@127.0.0.1:1/db",
                                 "postgresql://u:Hunter2@127.0.0.1:1/db"])
def test_unreachable_server(url, capsys):
    start = time.monotonic()
    status = main(["result", "merge", url, "--output", url.replace(":1/", ":2/")])
    err = capsys.readouterr().err
    assert status == 3 and err.startswith("Error: cannot open ") and ":***@127.0.0.1:1/db" in err
    assert "Hunter2" not in err and "Traceback" not in err and err.count("\n") == 1
    assert time.monotonic() - start < 15


WRITER = textwrap.dedent("""
    import pathlib, sys, time
    from fastpath.store import open_store
    from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile
    url, worker, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), pathlib.Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.01)
    with open_store(url) as store:                    # both create the store at once
        store.put_sut(Sut("lab"))
        store.put_swprofile(SwProfile("p"))
        store.put_benchmark(Benchmark("fp/syscall", "fp", "syscall"))
        store.put_resultclass(ResultClass("fp/syscall", "ns", "ns", "lower"))
        new = 0
        for i in range(n):
            store.append_sample(Sample("lab", "p", "fp/syscall", "ns", worker, i, float(i)))
            store.append_sample(Sample("lab", "p", "fp/syscall", "ns", 99, i, -1.0))   # both write it
        new += store.append_samples(Sample("lab", "p", "fp/syscall", "ns", 100, i, 2.0)
                                    for i in range(3000))
        print(new)
""")


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("mysql", marks=[pytest.mark.db, pytest.mark.slow]),
                                  pytest.param("postgresql", marks=pytest.mark.db)])
def test_concurrent_writers_lose_nothing(kind, tmp_path, fresh_db_url):
    url = make_store_url(kind, tmp_path, fresh_db_url)
    go, n = tmp_path / "go", 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in (1, 2)]
    time.sleep(0.3)
    go.touch()
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    assert sum(int(out) for out, _ in results) == 3000        # each bulk sample counted once
    with open_store(url, readonly=True) as store:
        samples = list(store.samples())
        assert len(samples) == 2 * n + n + 3000
        for worker in (1, 2):
            assert sorted(s.repeat for s in samples if s.session == worker) == list(range(n))
        assert len(store.suts()) == 1 and len(store.resultclasses()) == 1


@pytest.mark.db
def test_mysql_column_read_falls_back_when_group_concat_is_cut(db_server, fresh_db_url):
    url = fresh_db_url("mysql")
    with open_store(url) as store:
        dataset.write(store)
        pk = store.pks
        where = (f"FROM samples WHERE swprofile_pk = {pk['swprofiles']['6.9.0']} AND resultclass_pk = "
                 f"{pk['resultclasses'][('fp/syscall', 'ns_per_call')]} AND sut_pk = "
                 f"{pk['suts'][dataset.SUTS[0].id]}")
        with store.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            cursor.execute("SET SESSION group_concat_max_len = 4294967295")
            full = sqlstore.SqlStore._mysql_group(cursor, where)
            cursor.execute("SET SESSION group_concat_max_len = 16")      # the text gets cut
            assert sqlstore.SqlStore._mysql_group(cursor, where) is None
        expected = sorted((s.session, s.repeat, s.value) for s in dataset.samples()
                          if s.swprofile == "6.9.0" and s.resultclass == "ns_per_call")
        assert sorted(map(tuple, full.tolist())) == expected            # exact doubles
