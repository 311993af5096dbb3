"""Fixtures shared by every test directory live in tests/fixtures/, one module per component.

Tests are marked by the parts they use, from the fixtures they need (directly or through other
fixtures), so that ``-m`` selects a tier (README, Development):

- ``ssh``: the loopback OpenSSH server (``sshd``, ``sshd_conn``, ``plan_file``, ...);
- ``db``: the machine's MariaDB and PostgreSQL (``db_server``, ``fresh_db_url``; the server
  parameters of ``any_store_url`` carry it already, its csv and sqlite ones do not);
- ``lab``: the QEMU lab (``lab_tree``, ``lab_kernel``, ``lab_vm``, ``lab_sut``);
- ``slow``: marked by hand, for a test that takes long without those parts (a wheel build).
"""

import pytest

pytest_plugins = ["tests.fixtures.stores", "tests.fixtures.sshd", "tests.fixtures.lab"]

PARTS = {
    "ssh": {"sshd"},
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
    return used


def pytest_collection_modifyitems(config, items):
    for item in items:
        for part in sorted(parts_used(item)):
            if not item.get_closest_marker(part):
                item.add_marker(getattr(pytest.mark, part))
