"""Store URLs: forms, errors, masking."""

from __future__ import annotations

import os

import pytest

from fastpath.cli.main import main
from fastpath.errors import UserError
from fastpath.store.url import mask, parse


@pytest.mark.parametrize("url, scheme, path", [
    ("results", "csv", os.path.abspath("results")),
    ("/abs/results", "csv", "/abs/results"),
    ("csv:///rel/dir", "csv", os.path.abspath("rel/dir")),
    ("csv:////abs/dir", "csv", "/abs/dir"),
    ("sqlite:///r.db", "sqlite", os.path.abspath("r.db")),
    ("sqlite:////tmp/r.db", "sqlite", "/tmp/r.db"),
])
def test_path_forms(url, scheme, path):
    u = parse(url)
    assert (u.scheme, u.path) == (scheme, path)


def test_server_forms():
    u = parse("mysql://fp:p%40ss:w@db.example:3307/team")
    assert (u.scheme, u.user, u.password, u.host, u.port, u.database) == \
        ("mysql", "fp", "p@ss:w", "db.example", 3307, "team")
    assert u.masked == "mysql://fp:***@db.example:3307/team"
    assert "p@ss" not in repr(u)
    u = parse("postgres://postgres@127.0.0.1/test")
    assert (u.scheme, u.port, u.masked) == ("postgresql", None, "postgres://postgres@127.0.0.1/test")


def test_mask():
    assert mask("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask("mysql://u@h/db") == "mysql://u@h/db"
    assert mask("results/") == "results/"


@pytest.mark.parametrize("url, message", [
    ("oracle://u:Sekr1t@h/db", "unknown store URL scheme 'oracle' in 'oracle://u:***@h/db'"),
    ("mysql://u:Sekr1t@h:notaport/db", "malformed store URL 'mysql://u:***@h:notaport/db'"),
    ("mysql://u:Sekr1t@/db", "no host"),
    ("postgresql://u:Sekr1t@h:5432", "expected one database name"),
    ("postgresql://u:Sekr1t@h:5432/a/b", "expected one database name"),
    ("sqlite://r.db", "expected sqlite:///relative/path"),
    ("mysql:u:Sekr1t@h/db", "malformed store URL 'mysql:u:***@h/db'"),
    ("", "empty store URL"),
])
def test_bad_urls(url, message, capsys):
    with pytest.raises(UserError, match=message.replace("*", r"\*").replace("(", r"\(")):
        parse(url)
    assert main(["result", "list", url, "--object", "sut"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Sekr1t" not in err


@pytest.mark.parametrize("password", ["Sec/ret", "Sec#ret", "Sec?ret", "Sec/r#e?t@x"])
def test_password_with_reserved_characters_never_leaks(password, capsys):
    url = f"mysql://u:{password}@127.0.0.1:1/db"
    u = parse(url)
    assert (u.user, u.password, u.host, u.port, u.database) == ("u", password, "127.0.0.1", 1, "db")
    assert u.masked == "mysql://u:***@127.0.0.1:1/db"
    for bad in (url.replace(":1/", ":x/"), url.replace("/db", "")):
        with pytest.raises(UserError) as err:
            parse(bad)
        assert not any(part in str(err.value) for part in ("Sec", "ret"))
        assert main(["result", "list", bad, "--object", "sut"]) == 1
        out = capsys.readouterr()
        assert "Sec" not in out.err + out.out and out.err.count("\n") == 1


def test_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("FASTPATH_STORE_PASSWORD", "fr0m-env")
    u = parse("postgresql://fp@db:5432/team")
    assert (u.password, u.masked) == ("fr0m-env", "postgresql://fp@db:5432/team")
    assert parse("postgresql://fp:given@db:5432/team").password == "given"   # the URL's wins
    assert parse("postgresql://db:5432/team").password == ""                # no user: none
