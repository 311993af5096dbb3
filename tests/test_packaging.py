"""The package as users get it: a wheel built from this checkout, installed into a fresh venv,
carries the bisection scripts (executable) and finds them with no checkout around."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(*argv, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv (sharing the system's site-packages for the dependencies) with the wheel of
    this checkout installed, and an environment that cannot see the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"            # a copy: the build leaves build/ and *.egg-info behind
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", source)
    wheel, = (base / "dist").glob("fastpath-*.whl")
    run(sys.executable, "-m", "venv", "--system-site-packages", base / "venv")
    py = base / "venv" / "bin" / "python"
    # --ignore-installed: the system's editable fastpath is visible through --system-site-packages
    run(py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", wheel)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{base / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return base / "venv", env


@pytest.mark.slow
def test_wheel_installs_the_scripts_and_fastpath_scripts_finds_them(venv, tmp_path):
    home, env = venv
    out = run(home / "bin" / "fastpath", "scripts", env=env, cwd=tmp_path).stdout.strip()
    scripts = pathlib.Path(out)
    assert scripts.is_relative_to(home.resolve()), f"{out} is not inside the venv {home}"
    for name in ("execute_bisection.sh", "build_local_kernel.sh"):
        assert (scripts / name).is_file() and os.access(scripts / name, os.X_OK), name
    # bisect auto's default is the same directory, from anywhere (here: a kernel-like tree
    # whose own ./scripts has no execute_bisection.sh).
    (tmp_path / "scripts").mkdir()
    found = run(home / "bin" / "python", "-c", "from fastpath.bisect.auto import find_scripts; "
                "print(find_scripts())", env=env, cwd=tmp_path).stdout.strip()
    assert found == out
    # The installed script runs (its usage error is git bisect's stop status, 128).
    proc = subprocess.run([scripts / "execute_bisection.sh"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 128 and "usage: execute_bisection.sh CONTEXT.yaml" in proc.stderr


def test_checkout_scripts_are_links_to_the_package_copy():
    """One home: src/fastpath/scripts; the checkout's scripts/ only points there."""
    from fastpath.scripts import DIRECTORY, NAMES, directory

    assert directory() == DIRECTORY
    for name in NAMES:
        link = ROOT / "scripts" / name
        assert link.is_symlink() and link.resolve() == (DIRECTORY / name).resolve(), link
        assert os.access(link, os.X_OK)
