"""SQL stores under driver faults: privileges, bad URL parameters, deadlocks, passwords."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from fastpath.cli.main import main
from fastpath.errors import StoreError
from fastpath.store import open_store, sqlengine
from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile

DB = [pytest.param(k, marks=pytest.mark.db) for k in ("mysql", "postgresql")]
HEADER = "sut,swprofile,benchmark,resultclass,unit,improvement,session,repeat,value\n"


def _objects(store):
    store.put_sut(Sut("lab"))
    store.put_swprofile(SwProfile("p"))
    store.put_benchmark(Benchmark("fp/syscall", "fp", "syscall"))
    store.put_resultclass(ResultClass("fp/syscall", "ns", "ns", "lower"))


def _objects_and_pks(url):
    """Write the objects; their (swprofile, result class, SUT) pks, for raw sample rows."""
    with open_store(url) as store:
        _objects(store)
        store._reload()
        return (store.pks["swprofiles"]["p"], store.pks["resultclasses"][("fp/syscall", "ns")],
                store.pks["suts"]["lab"])


def _user(server, kind, database, user, password, grant_select_only=True):
    if kind == "mysql":
        server.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
                   f"GRANT {'SELECT' if grant_select_only else 'ALL'} ON {database}.* TO '{user}'@'%'")
    else:
        server.sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        server.sql(f"GRANT USAGE ON SCHEMA public TO {user}",
                   f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}", database=database)


def _drop_user(server, kind, database, user):
    if kind == "mysql":
        server.sql(f"DROP USER '{user}'@'%'")
    else:
        server.drop_database(database)
        server.sql(f"DROP ROLE {user}")


@pytest.mark.parametrize("kind", DB)
def test_select_only_user_importing_samples_is_one_line_exit_3(kind, db_server, fresh_db_url,
                                                               tmp_path, capsys, monkeypatch):
    server = db_server(kind)
    owner = fresh_db_url(kind)
    database = owner.rsplit("/", 1)[1]
    with open_store(owner) as store:
        _objects(store)
    user = f"sel_{database}"
    _user(server, kind, database, user, "Pw-s3lect")
    try:
        src = tmp_path / "in.csv"
        src.write_text(HEADER + "lab,p,fp/syscall,ns,ns,lower,0,0,1.5\n")   # objects exist
        monkeypatch.setenv("FASTPATH_STORE_PASSWORD", "Pw-s3lect")          # kept off the URL
        url = server.url(database, user)
        status = main(["result", "import", url, str(src)])
        err = capsys.readouterr().err
        assert status == 3, err
        assert err.startswith(f"Error: cannot append samples to {url}: ") and err.count("\n") == 1
        assert ("denied" in err) and "Pw-s3lect" not in err
    finally:
        _drop_user(server, kind, database, user)


@pytest.mark.db
def test_bad_charset_url_parameter_is_one_line(fresh_db_url, capsys):
    url = fresh_db_url("mysql") + "?charset=bogus"
    status = main(["result", "list", url, "--object", "sut"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1, err
    assert "charset 'bogus'" in err and "Traceback" not in err


class _Blocker:
    """A second real transaction that makes the store's write deadlock: it holds sample B,
    waits until the store's transaction holds A and waits for B, then asks for A."""

    def __init__(self, url, kind, ids):
        self.kind, self.ids = kind, ids
        raw = url.replace("mysql://", "mysql+pymysql://").replace("postgresql://", "postgresql+psycopg://")
        self.engine = create_engine(raw)
        self.conn = self.engine.connect()
        self.error = None

    def insert(self, session, repeat, value=9.0):
        sw, rc, sut = self.ids
        self.conn.execute(text(
            "INSERT INTO samples (swprofile_pk, resultclass_pk, sut_pk, session, repeat_idx, value, "
            f"timestamp) VALUES ({sw}, {rc}, {sut}, {session}, {repeat}, {value}, '')"))

    def hold(self):
        if self.kind == "postgresql":     # let the store's transaction detect the deadlock first
            self.conn.execute(text("SET deadlock_timeout = '20s'"))
        for r in range(100, 140):         # heavier than the store's: InnoDB rolls back the lighter
            self.insert(1, r)
        self.insert(0, 1)                 # B

    def wait_for_a_lock_wait(self, timeout=30):
        """Return once another transaction on this test's database waits for a lock (not one
        of another test's, which pytest-xdist runs at the same time on the same server; InnoDB
        refreshes innodb_trx only when it has not been read for 0.1 s: poll slower than that)."""
        waiting = ("SELECT COUNT(*) FROM information_schema.innodb_trx t JOIN "
                   "information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                   "WHERE t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()"
                   if self.kind == "mysql" else
                   "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND datname = current_database()")
        probe = create_engine(self.engine.url, isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + timeout
        try:
            with probe.connect() as conn:
                while not conn.execute(text(waiting)).scalar():
                    assert time.monotonic() < deadline, "nothing ever waited for a lock"
                    time.sleep(0.25 if self.kind == "mysql" else 0.02)
        finally:
            probe.dispose()

    def then_take_a(self):
        def run():
            try:
                self.wait_for_a_lock_wait()
                self.insert(0, 0)         # A: now both wait for each other
                self.conn.commit()
            except Exception as err:      # noqa: BLE001 - reported by the test
                self.error = err
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def close(self):
        self.conn.close()
        self.engine.dispose()


@pytest.mark.parametrize("kind", DB)
def test_deadlock_during_sample_write_is_retried(kind, db_server, fresh_db_url):
    url = fresh_db_url(kind)
    if kind == "postgresql":      # the store's backend looks for the deadlock 3 s into its wait
        db_server(kind).sql(f"ALTER DATABASE {url.rsplit('/', 1)[1]} SET deadlock_timeout = '3s'")
    ids = _objects_and_pks(url)
    with open_store(url) as store:
        blocker = _Blocker(url, kind, ids)
        try:
            blocker.hold()
            thread = blocker.then_take_a()
            new = store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 0, r, 1.0)
                                        for r in range(2)])       # A then B
            thread.join()
        finally:
            blocker.close()
        assert blocker.error is None, f"the test's transaction was the victim: {blocker.error}"
        assert new == 0                   # after the retry both were there (committed by the blocker)
        assert store.count_samples() == 42


@pytest.mark.parametrize("kind", DB)
def test_ctrl_c_while_an_import_waits_on_the_database_exits_130(kind, fresh_db_url, tmp_path):
    url = fresh_db_url(kind)
    ids = _objects_and_pks(url)
    src = tmp_path / "in.csv"
    src.write_text(HEADER + "".join(f"lab,p,fp/syscall,ns,ns,lower,0,{r},1.5\n" for r in range(5)))
    blocker = _Blocker(url, kind, ids)
    try:
        blocker.insert(0, 3)              # uncommitted: the import's insert waits for it
        proc = subprocess.Popen([sys.executable, "-m", "fastpath.cli.main", "result", "import", url,
                                 str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        blocker.wait_for_a_lock_wait()
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        blocker.close()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cannot append" not in err


@pytest.mark.parametrize("kind", DB)
def test_blackholed_link_fails_in_bounded_time_with_one_line(kind, fresh_db_url, tcp_proxy, capsys,
                                                             monkeypatch):
    monkeypatch.setattr(sqlengine, "READ_TIMEOUT", 1)        # the defaults, made short
    monkeypatch.setattr(sqlengine, "CONNECT_TIMEOUT", 1)
    url = fresh_db_url(kind)
    port = 3306 if kind == "mysql" else 5432
    proxy = tcp_proxy(port)
    via = url.replace(f":{port}/", f":{proxy.port}/")
    outcome = []

    def append_after_blackhole():
        with open_store(via) as store:
            _objects(store)
            store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 0, 0, 1.0)])
            proxy.blackhole()
            start = time.monotonic()
            try:
                store.append_samples([Sample("lab", "p", "fp/syscall", "ns", 0, 1, 2.0)])
                outcome.append("written")
            except StoreError as err:
                outcome.append((str(err), time.monotonic() - start))

    worker = threading.Thread(target=append_after_blackhole, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the write hung on the blackholed link"
    (message, took), = outcome
    assert message.startswith(f"cannot append samples to {via}: ") and "\n" not in message
    assert ("timed out" in message or "timeout expired" in message) and took < 12, (message, took)
    start = time.monotonic()                  # a new connection through the dead link
    assert main(["result", "list", via, "--object", "sut"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot open ") and err.count("\n") == 1, err
    assert time.monotonic() - start < 12
    with pytest.raises(Exception, match="read_timeout must be a whole number"):
        open_store(url + "?read_timeout=soon")
