"""Fixtures shared by every test directory live in tests/fixtures/, one module per component.

Tests are marked by the parts they use, from the fixtures they need (directly or through other
fixtures), so that ``-m`` selects a tier (README, Development):

- ``ssh``: the loopback OpenSSH server (``sshd``, ``sshd_conn``, ``plan_file``, ...);
- ``db``: the machine's MariaDB and PostgreSQL (``db_server``, ``fresh_db_url``; the server
  parameters of ``any_store_url`` carry it already, its csv and sqlite ones do not, and so for
  a test whose own parametrize marks its server parameters db);
- ``lab``: the QEMU lab (``lab_tree``, ``lab_kernel``, ``lab_vm``, ``lab_sut``);
- ``slow``: marked by hand, for a test that takes long without those parts (a wheel build,
  whole simulated bisections, ...); tests/test_tiers.py lists each with the developer-tier test
  that keeps its behaviour.
"""

import os
import sys

import pytest
from _pytest.mark.structures import ParameterSet

pytest_plugins = ["tests.fixtures.stores", "tests.fixtures.sshd", "tests.fixtures.lab"]

PARTS = {
    "ssh": {"sshd", "sshd2"},
    "db": {"db_server", "fresh_db_url"},
    "lab": {"lab_tree", "lab_kernel", "lab_vm", "lab_sut"},
}


def parts_used(item) -> set[str]:
    """The parts (ssh, db, lab) a test needs, from its fixture closure."""
    names = set(getattr(item, "fixturenames", ()))
    used = {part for part, fixtures in PARTS.items() if names & fixtures}
    if "db" in used and "any_store_url" in names:
        # any_store_url asks for fresh_db_url for every backend: only its server parameters
        # (already marked db) and tests that ask for a database themselves use one.
        direct = set(getattr(getattr(item, "_fixtureinfo", None), "argnames", ()))
        if not direct & PARTS["db"] and not any(m.name == "db" for m in item.iter_markers()):
            used.discard("db")
    elif "db" in used and params_mark_db(item) and not item.get_closest_marker("db"):
        # a test parametrized over backends (kind = csv, sqlite, mysql, ...) that marks its
        # server parameters db itself: its csv and sqlite cases use no server
        used.discard("db")
    return used


def params_mark_db(item) -> bool:
    """True when the test's own parametrize marks some parameters db (pytest.param(...,
    marks=pytest.mark.db)), so the parameters, not the fixtures, say which use a server."""
    return any(isinstance(v, ParameterSet) and any(mk.name == "db" for mk in v.marks)
               for m in item.iter_markers("parametrize")
               for v in (m.args[1] if len(m.args) > 1 else ()))


def pytest_configure(config):
    """The `fastpath` and `python3` the tests run are those of the interpreter running pytest,
    found first on PATH: not a version manager's shim (pyenv's costs 0.3 s a call), nor another
    Python's."""
    bindir = os.path.dirname(sys.executable)
    if os.path.exists(os.path.join(bindir, "fastpath")):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker more than the CPUs this process may use. The suite waits more than
    it computes (sshd logins, database servers, sleeping stand-in builds), and on 2 quiet cores
    3 workers took the developer tier from 173 s to 135 s, where 4 took 143 s (README)."""
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_modifyitems(config, items):
    for item in items:
        for part in sorted(parts_used(item)):
            if not item.get_closest_marker(part):
                item.add_marker(getattr(pytest.mark, part))
