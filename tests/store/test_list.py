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
