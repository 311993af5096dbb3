"""Where the lab keeps its state, and the small process helpers every lab module uses.

The lab home is ``$FASTPATH_LAB_HOME`` or ``~/.cache/fastpath/lab``. It holds the SSH keys
(``id_ed25519``, ``known_hosts``, the VM host key), the VM's runtime files under ``vm/``
(qemu pid, forwarded port, serial log, initramfs), ``sut.yaml``, and cached kernel trees
under ``trees/``.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shlex
import subprocess

from fastpath.errors import BuildError, FastpathError, UserError

log = logging.getLogger("fastpath.lab")

FILES = pathlib.Path(__file__).resolve().parent / "files"
BENCH_SRC = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "src"


def lab_home(home: str | os.PathLike | None = None) -> pathlib.Path:
    """The lab state directory (created if missing)."""
    if home is None:
        home = os.environ.get("FASTPATH_LAB_HOME") or pathlib.Path.home() / ".cache/fastpath/lab"
    path = pathlib.Path(home).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(cmd: list[str], *, cwd: str | os.PathLike | None = None, env: dict | None = None,
        error: type[FastpathError] = UserError, what: str | None = None,
        capture: bool = True, input: str | None = None) -> str:
    """Run a local command; return its stdout. A failure raises ``error`` with the last output line."""
    log.debug("run: %s (cwd=%s)", shlex.join(cmd), cwd)
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, text=True, input=input,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None)
    except FileNotFoundError:
        raise error(f"{what or cmd[0]}: command not found: {cmd[0]}") from None
    if proc.returncode != 0:
        out = ((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()
        tail = f": {out[-1]}" if out else ""
        raise error(f"{what or shlex.join(cmd)} failed with status {proc.returncode}{tail}")
    return proc.stdout or ""


def git(tree: str | os.PathLike, *args: str, env: dict | None = None) -> str:
    """Run git in ``tree``; return stdout stripped. Failures are BuildErrors naming the tree."""
    return run(["git", "-C", str(tree), *args], env=env, error=BuildError,
               what=f"git {args[0]} in {tree}").strip()
