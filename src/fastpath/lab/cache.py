"""A prepared and built lab tree kept under the lab home, reused across runs (tests, demos).

Keyed by the kernel source (tarball name and size) and the lab config fragment, so a new
Debian source package or a changed fragment makes a new tree. Building it the first time
takes a few minutes; later runs reuse the objects and rebuild incrementally.
"""

from __future__ import annotations

import os
import pathlib
import shutil

from fastpath.lab import kernel
from fastpath.lab.home import git, lab_home, log


def tree_key() -> str:
    tarball = kernel.ensure_source_package()
    return f"{tarball.name.removesuffix('.tar.xz')}-{tarball.stat().st_size}-{kernel.fragment_hash()}"


def cached_tree(home: str | os.PathLike | None = None) -> pathlib.Path:
    """Path of the cached lab tree (prepared on first use), checked out at its base commit.

    Commits made on top of the base by earlier runs are left in place but HEAD is moved back
    to ``fastpath-lab-base`` (detached) so each run starts from the base.
    """
    root = lab_home(home) / "trees" / tree_key()
    tree = root / "linux"
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
    return tree


def reset_to_base(tree: pathlib.Path) -> None:
    """End any bisection, drop local changes to tracked files, check out the base tag."""
    if (tree / ".git" / "BISECT_LOG").exists():
        git(tree, "bisect", "reset", "-q")
    git(tree, "checkout", "-q", "-f", "--detach", kernel.BASE_TAG)


def base_build(tree: pathlib.Path) -> kernel.BuildResult:
    """The base commit's build: reuse the stored one when present, else build now."""
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
