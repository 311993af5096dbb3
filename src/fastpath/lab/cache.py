"""A prepared and built lab tree kept under the lab home, reused across runs (tests, demos).

Keyed by the kernel source (tarball name and size), the lab config fragment and the version
of ``kernel.prepare``, so a new Debian source package or a changed fragment makes a new tree.
Building it the first time takes a few minutes; later runs reuse it. Sessions never change the
cached tree: each takes its own copy (``session_copy``, ~25 s). The copy keeps the objects, but
its first build recompiles them once (objtool's build records absolute paths, relinks in the new
place, and every object depends on objtool): about 80 s with a warm ccache. Later builds in the
copy are incremental (seconds). A file lock serialises preparing, building and copying.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil

from fastpath.lab import kernel
from fastpath.lab.home import git, lab_home, log, run


def tree_key() -> str:
    tarball = kernel.ensure_source_package()
    return (f"{tarball.name.removesuffix('.tar.xz')}-{tarball.stat().st_size}-{kernel.fragment_hash()}"
            f"-v{kernel.PREPARE_VERSION}")


@contextlib.contextmanager
def _locked(root: pathlib.Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _root(home: str | os.PathLike | None) -> pathlib.Path:
    return lab_home(home) / "trees" / tree_key()


def cached_tree(home: str | os.PathLike | None = None) -> pathlib.Path:
    """Path of the cached lab tree, prepared and its base built on first use, at its base tag."""
    root = _root(home)
    tree = root / "linux"
    with _locked(root):
        if not (tree / ".git" / kernel.INFO_FILE).exists():
            staging = root / "linux.tmp"
            if staging.exists():
                shutil.rmtree(staging)
            log.warning("preparing the cached lab tree in %s (first run: a few minutes)", tree)
            kernel.prepare(staging)
            if tree.exists():
                shutil.rmtree(tree)
            staging.rename(tree)
        reset_to_base(tree)
        base_build(tree)
    return tree


def session_copy(dest: str | os.PathLike, home: str | os.PathLike | None = None) -> pathlib.Path:
    """A private copy of the cached tree (with its objects and base build) at ``dest``."""
    tree = cached_tree(home)
    dest = pathlib.Path(dest)
    with _locked(tree.parent):
        run(["cp", "-a", str(tree), str(dest)], what=f"copying {tree}")
    return dest


def reset_to_base(tree: pathlib.Path) -> None:
    """End any bisection, drop local changes to tracked files, check out the base tag."""
    if (tree / ".git" / "BISECT_LOG").exists():
        git(tree, "bisect", "reset")
    git(tree, "checkout", "-q", "-f", "--detach", kernel.BASE_TAG)


def base_build(tree: pathlib.Path) -> kernel.BuildResult:
    """The base commit's build in ``tree/.fastpath/base``: reuse it when present, else build now."""
    sha = git(tree, "rev-parse", kernel.BASE_TAG + "^{commit}")
    out = tree / kernel.OUT_DIR / "base"
    image, modules = out / "bzImage", out / "modules.tar.xz"
    if image.exists() and modules.exists() and (out / "gitsha").read_text().strip() == sha:
        release = (out / "release").read_text().strip()
        return kernel.BuildResult(image, modules, sha, release, 0.0)
    reset_to_base(tree)
    result = kernel.build(tree, output=out)
    (out / "release").write_text(result.release + "\n")
    return result
