"""The shell scripts installed with fastpath, as package data: ``execute_bisection.sh`` (for
``git bisect run``) and ``build_local_kernel.sh``. This directory is their one home; the
checkout's ``scripts/`` holds symlinks to them, so ``/path/to/fastpath/scripts/...`` keeps
working from a checkout, and ``fastpath scripts`` prints this directory from any install.
"""

from __future__ import annotations

import os
import pathlib

from fastpath.errors import UserError

DIRECTORY = pathlib.Path(__file__).resolve().parent
NAMES = ("execute_bisection.sh", "build_local_kernel.sh")


def directory() -> pathlib.Path:
    """This directory, after checking that both scripts are there and executable."""
    for name in NAMES:
        path = DIRECTORY / name
        if not path.is_file():
            raise UserError(f"{path}: missing from this fastpath install (reinstall fastpath)")
        if not os.access(path, os.X_OK):
            raise UserError(f"{path}: not executable (chmod +x it, or reinstall fastpath)")
    return DIRECTORY
