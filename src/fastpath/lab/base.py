"""`fastpath lab kernel`: prepare a tree, build it, and make the result the lab's base kernel."""

from __future__ import annotations

import os
import pathlib
import shutil

from fastpath.lab import kernel
from fastpath.lab.home import lab_home


def install_base(result: kernel.BuildResult, home: str | os.PathLike | None = None) -> pathlib.Path:
    """Copy a build to ``<lab home>/base/`` (what `lab up` and power-cycles boot); return the image."""
    base = lab_home(home) / "base"
    base.mkdir(parents=True, exist_ok=True)
    for src, name in ((result.image, "bzImage"), (result.modules, "modules.tar.xz")):
        tmp = base / (name + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(base / name)
    (base / "gitsha").write_text(result.gitsha + "\n")
    (base / "release").write_text(result.release + "\n")
    return base / "bzImage"


def make_lab_kernel(directory: str | os.PathLike, *, source: str | os.PathLike | None = None,
                    build: bool = True, jobs: int | None = None,
                    home: str | os.PathLike | None = None) -> dict:
    """Prepare a lab tree in ``directory`` and (unless ``build`` is False) build and install its base."""
    tree = pathlib.Path(directory).expanduser().resolve()
    sha = kernel.prepare(tree, source=source)
    out = {"tree": str(tree), "base": sha}
    if build:
        result = kernel.build(tree, jobs=jobs)
        image = install_base(result, home)
        out.update(image=str(image), modules=str(image.parent / "modules.tar.xz"),
                   build_seconds=result.seconds)
    return out
