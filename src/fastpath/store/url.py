"""Store URLs: parsing, validation and password masking.

Accepted forms (a path after ``scheme:///`` follows SQLAlchemy's rule: three slashes and a
relative path, four slashes for an absolute one, e.g. ``sqlite:////tmp/r.db``):

    results/                         a CSV directory (bare path)
    csv:///results  csv:////abs/dir  a CSV directory
    sqlite:///file.db                a SQLite file
    mysql://user:pw@host:port/db     MariaDB/MySQL through PyMySQL
    postgresql://user:pw@host:port/db  PostgreSQL through psycopg 3 (``postgres://`` too)

A password may be left out of the URL (``ps`` shows command lines): a URL with a user
and no password takes it from the environment variable FASTPATH_STORE_PASSWORD.
PostgreSQL also reads ``~/.pgpass`` and ``PGPASSWORD`` itself when neither gives one.

``mask(url)`` replaces the password with ``***``; it is the only form of a URL that may
appear in a message or a log line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from fastpath.errors import UserError

SCHEMES = ("csv", "sqlite", "mysql", "postgresql")
_ALIASES = {"postgres": "postgresql", "mysql+pymysql": "mysql", "mariadb": "mysql",
            "postgresql+psycopg": "postgresql", "file": "csv"}
PASSWORD_ENV = "FASTPATH_STORE_PASSWORD"   # the password of a URL with a user and none given
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class StoreUrl:
    scheme: str                   # one of SCHEMES
    masked: str                   # the URL with its password replaced by ***
    path: str = ""                # csv, sqlite: absolute file system path
    user: str = ""
    password: str = field(default="", repr=False)
    host: str = ""
    port: int | None = None
    database: str = ""
    query: tuple[tuple[str, str], ...] = ()


def mask(url: str) -> str:
    """``url`` with the password of ``user:password@`` replaced by ``***`` (also in malformed URLs)."""
    url = str(url)
    m = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:(//)?", url)
    if not m:
        return url
    rest = url[m.end():]
    at = rest.rfind("@")
    if at < 0 or ":" not in rest[:at]:
        return url
    user = rest[:at].split(":", 1)[0]
    return f"{url[:m.end()]}{user}:***@{rest[at + 1:]}"


def parse(url: str) -> StoreUrl:
    """Parse and validate a store URL; UserError names what is wrong (password masked)."""
    url = str(url).strip()
    if not url:
        raise UserError("empty store URL: give a directory, sqlite:///file.db, mysql://... or postgresql://...")
    shown = mask(url)
    m = _SCHEME_RE.match(url)
    if not m:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\\]", url) and not os.path.exists(url) \
                and url.split(":", 1)[0].lower() in (*SCHEMES, *_ALIASES):
            raise UserError(f"malformed store URL '{shown}': expected '{url.split(':', 1)[0]}://...'")
        return StoreUrl("csv", shown, path=os.path.abspath(os.path.expanduser(url)))
    scheme = m.group(1).lower()
    scheme = _ALIASES.get(scheme, scheme)
    if scheme not in SCHEMES:
        raise UserError(f"unknown store URL scheme '{m.group(1)}' in '{shown}': "
                        f"use a directory, csv://, sqlite://, mysql:// or postgresql://")
    rest = url[m.end():]
    if scheme in ("csv", "sqlite"):
        if not rest.startswith("/") or rest == "/":
            raise UserError(f"malformed store URL '{shown}': expected {scheme}:///relative/path "
                            f"or {scheme}:////absolute/path")
        path = unquote(rest[1:].split("?", 1)[0])
        return StoreUrl(scheme, shown, path=os.path.abspath(os.path.expanduser(path)))
    return _parse_server(scheme, url, shown)


def _parse_server(scheme: str, url: str, shown: str) -> StoreUrl:
    """user:password ends at the last '@', so a password may hold '/', '#', '?' or '@'
    unencoded; only the part after it goes through urlsplit (whose errors then cannot
    quote the password)."""
    head, rest = url.split("://", 1)
    userinfo, at, hostpart = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    try:
        parts = urlsplit(f"{head}://{hostpart}")
        port = parts.port
    except ValueError as err:
        raise UserError(f"malformed store URL '{shown}': {err}") from None
    if not parts.hostname:
        raise UserError(f"malformed store URL '{shown}': no host (expected {scheme}://user:pw@host:port/db)")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise UserError(f"malformed store URL '{shown}': expected one database name after the host "
                        f"({scheme}://user:pw@host:port/db)")
    user, password = unquote(user), unquote(password)
    if user and not password:
        password = os.environ.get(PASSWORD_ENV, "")
    return StoreUrl(scheme, shown, user=user, password=password, host=parts.hostname, port=port,
                    database=database, query=tuple(parse_qsl(parts.query)))
