"""Fixtures shared by every test directory live in tests/fixtures/, one module per component."""

pytest_plugins = ["tests.fixtures.stores", "tests.fixtures.sshd", "tests.fixtures.lab"]
