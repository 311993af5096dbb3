"""`result list`, and passwords never printed (also with --verbose logging)."""

from __future__ import annotations

import pytest

from fastpath.cli.main import main
from fastpath.store import open_store
from fastpath.store.merge import merge
from tests.store import dataset


def test_list_objects(any_store_url, capsys):
    with open_store(any_store_url) as store:
        dataset.write(store)
    assert main(["result", "list", any_store_url, "--object", "swprofile"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["id", "kernel_name", "kernel_git_sha"]
    assert [line.split()[0] for line in out[1:]] == ["6.8.0-baseline", "6.9.0", "Case-Sensitive",
                                                     "case-sensitive"]
    assert "a1b2c3d4e5f6" in out[1] and "mitigations=off" in out[1]
    assert main(["result", "list", any_store_url, "--object", "benchmark", "--id", "fp/*"]) == 0
    out = capsys.readouterr().out
    assert "fp/syscall" in out and "sysbench" not in out and "ns_per_call[ns,lower]" in out
    assert main(["result", "list", any_store_url, "--object", "sut"]) == 0
    assert "Neoverse-N1" in capsys.readouterr().out
    assert main(["result", "list", any_store_url, "--object", "sut", "--id", "zz*"]) == 1
    assert "no sut matches --id 'zz*'" in capsys.readouterr().err
    assert main(["result", "list", any_store_url, "--object", "kernel"]) == 1   # a usage error


@pytest.mark.db
def test_password_never_printed_even_verbose(db_server, fresh_db_url, tmp_path, capsys, caplog):
    server = db_server("postgresql")
    url = fresh_db_url("postgresql")
    database = url.rsplit("/", 1)[1]
    user = f"pw_{database}"
    server.sql(f"CREATE ROLE {user} LOGIN PASSWORD 'Xyzzy-secret'")
    server.sql(f"GRANT ALL ON SCHEMA public TO {user}", database=database)
    try:
        with_pw = server.url(database, user, "Xyzzy-secret")
        csv_dir = tmp_path / "src"
        with open_store(str(csv_dir)) as store:
            dataset.write(store)
        assert main(["-v", "result", "merge", str(csv_dir), "--output", with_pw]) == 0
        assert main(["-v", "result", "list", with_pw, "--object", "sut"]) == 0
        report = merge([with_pw], str(tmp_path / "back"))
        out, err = capsys.readouterr()
        assert f"{user}:***@" in out and f"{user}:***@" in report.summary()
        assert "Xyzzy" not in out + err + caplog.text + report.summary()
        with open_store(with_pw) as store:
            assert "Xyzzy" not in store.url + repr(store.engine)
    finally:
        server.drop_database(database)
        server.sql(f"DROP ROLE {user}")


@pytest.mark.parametrize("command", ["list", "merge", "import"])
def test_help_has_example(command, capsys):
    assert main(["result", command, "--help"]) == 0
    assert "Example:" in capsys.readouterr().out


def test_swprofile_counts_and_json(any_store_url, capsys):
    """Per-swprofile sessions and samples, counted here from the dataset itself."""
    import json

    from fastpath.store.model import Session

    with open_store(any_store_url) as store:
        dataset.write(store)
        store.put_session(Session(dataset.SUTS[0].id, "6.9.0", 7, "failed", "boot-7"))
    assert main(["result", "list", any_store_url, "--object", "swprofile", "--format",
                 "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    for sw in rows:
        samples = [s for s in dataset.samples() if s.swprofile == sw]
        sessions = {(s.sut, s.session) for s in samples} | {
            (s.sut, s.session) for s in dataset.SESSIONS if s.swprofile == sw}
        if sw == "6.9.0":
            sessions.add((dataset.SUTS[0].id, 7))
        assert (rows[sw]["samples"], rows[sw]["sessions"]) == (len(samples), len(sessions)), sw
    assert rows["6.9.0"]["incomplete"] == 1 and rows["6.8.0-baseline"]["incomplete"] == 0
    assert rows["6.8.0-baseline"]["cmdline"] == ["mitigations=off"]          # lists stay lists
    assert main(["result", "list", any_store_url, "--object", "swprofile"]) == 0
    header, first = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[-3:] == ["sessions", "incomplete", "samples"]
    assert first.split()[-3:] == [str(rows["6.8.0-baseline"][k])
                                  for k in ("sessions", "incomplete", "samples")]


def test_errors_are_listed_with_their_output(tmp_path, capsys):
    import json

    url = f"sqlite:///{tmp_path / 'e.db'}"
    with open_store(url) as store:
        dataset.write(store)
    assert main(["result", "list", url, "--object", "error"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "-  lab, \"quoted\" ünïcode  6.8.0-baseline  no session  boot: no shell after 120 s"
    assert out[1] == "    (no output)"
    assert out[2] == ("2026-11-28T10:03:00Z  Ampere Altra Max  6.9.0  session 1  benchmark "
                      "sysbench/thread: sysbench exited 1")
    assert out[3:] == ["    FATAL: 'x'", "    line 2,\"quoted\""]
    assert main(["result", "list", url, "--object", "error", "--id", "6.9*", "--format",
                 "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"timestamp": "2026-11-28T10:03:00Z", "sut": "Ampere Altra Max",
                     "swprofile": "6.9.0", "session": 1, "stage": "benchmark",
                     "benchmark": "sysbench/thread", "message": "sysbench exited 1",
                     "output": "FATAL: 'x'\nline 2,\"quoted\""}]
    assert main(["result", "list", url, "--object", "error", "--id", "zz*"]) == 1
    assert "no error record of a swprofile matching --id 'zz*'" in capsys.readouterr().err


def test_no_errors_is_not_an_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    from tests.analysis.test_show import make_store

    make_store(url, [("lab", "a", 0, 0, 1.0)])
    assert main(["result", "list", url, "--object", "error"]) == 0
    assert capsys.readouterr().out == "no error records\n"
    assert main(["result", "list", url, "--object", "error", "--format", "json"]) == 0
    assert capsys.readouterr().out == "[]\n"


def test_ids_in_natural_order(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'n.db'}"
    from tests.analysis.test_show import make_store

    make_store(url, [("lab", f"k{n}", 0, 0, 1.0) for n in (12, 2, 1, 10)])
    assert main(["result", "list", url, "--object", "swprofile"]) == 0
    assert [x.split()[0] for x in capsys.readouterr().out.splitlines()[1:]] == [
        "k1", "k2", "k10", "k12"]
