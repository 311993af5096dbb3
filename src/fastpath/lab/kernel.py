"""Prepare a lab kernel tree and build it.

``prepare(dir)`` makes a git tree from Debian's ``linux-source-6.1`` (or a tree the user
names), adds the lab config as ``arch/x86/configs/fastpath_lab_defconfig`` (tinyconfig plus
``files/lab.config``) and commits it as the base, tagged ``fastpath-lab-base``.

``build(tree)`` builds ``bzImage`` and the modules of whatever is checked out, in the tree
(so a second build after a small change is incremental), with ccache when it is installed,
and stamps the kernel with the commit: ``uname -v`` starts with ``#<sha12>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

from fastpath.errors import BuildError, UserError
from fastpath.lab.home import FILES, git, log, run

TARBALL = pathlib.Path("/usr/src/linux-source-6.1.tar.xz")
DEBIAN_PACKAGE = "linux-source-6.1"
FRAGMENT = FILES / "lab.config"
DEFCONFIG = "fastpath_lab_defconfig"
DEFCONFIG_PATH = pathlib.Path("arch/x86/configs") / DEFCONFIG
BASE_TAG = "fastpath-lab-base"
INFO_FILE = "fastpath-lab.json"          # under .git/: how the tree was prepared
OUT_DIR = ".fastpath"                    # build outputs in the tree, excluded from git
LAB_IDENTITY = {"GIT_AUTHOR_NAME": "fastpath lab", "GIT_AUTHOR_EMAIL": "lab@fastpath.invalid",
                "GIT_COMMITTER_NAME": "fastpath lab", "GIT_COMMITTER_EMAIL": "lab@fastpath.invalid"}
BASE_DATE = "2026-01-05T09:00:00+00:00"
PREPARE_VERSION = 2                      # bump when prepare() makes a different tree (cache key)
UPSTREAM_DOTFILES = [".clang-format", ".cocciconfig", ".get_maintainer.ignore", ".gitattributes",
                     ".gitignore", ".mailmap", ".rustfmt.toml"]


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """What one build produced: paths to the image and modules, and the commit built."""

    image: pathlib.Path
    modules: pathlib.Path
    gitsha: str          # full SHA of HEAD (with "-dirty" when the tree had changes)
    release: str         # `uname -r` of the kernel
    seconds: float

    def env(self) -> str:
        """Shell lines in the form scripts/.env uses."""
        return (f"KERNEL_PATH={self.image}\nMODULES_PATH={self.modules}\n"
                f"GITSHA={self.gitsha}\nKERNEL_RELEASE={self.release}\n")


def fragment_hash() -> str:
    """Hash of the lab config fragment (part of the tree cache key)."""
    return hashlib.sha256(FRAGMENT.read_bytes()).hexdigest()[:12]


def ensure_source_package() -> pathlib.Path:
    """Return the linux-source tarball, installing the Debian package when it is missing."""
    if TARBALL.exists():
        return TARBALL
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    log.warning("%s missing: installing %s with apt-get", TARBALL, DEBIAN_PACKAGE)
    run([*sudo, "apt-get", "install", "-y", "-q", DEBIAN_PACKAGE], what=f"apt-get install {DEBIAN_PACKAGE}",
        env={"DEBIAN_FRONTEND": "noninteractive"})
    if not TARBALL.exists():
        raise UserError(f"{DEBIAN_PACKAGE} is installed but {TARBALL} is missing")
    return TARBALL


def _check_target(dest: pathlib.Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest}: exists and is not an empty directory; pick a new DIR")
    dest.mkdir(parents=True, exist_ok=True)


def _import_tarball(dest: pathlib.Path) -> str:
    tarball = ensure_source_package()
    run(["tar", "-xf", str(tarball), "-C", str(dest), "--strip-components=1"],
        what=f"extracting {tarball}", error=BuildError)
    # Debian's .gitignore ignores every top-level entry (it tracks only debian/); drop that part.
    gitignore = dest / ".gitignore"
    text = gitignore.read_text()
    cut = text.find("#\n# Debian packaging")
    if cut >= 0:
        text = text[:cut]
    # Debian also dropped upstream's exceptions to ".*", so no .gitignore would be tracked.
    if "!.gitignore" not in text:
        text += "\n# Dot-files that are part of the tree (as upstream)\n" + "".join(
            f"!{name}\n" for name in UPSTREAM_DOTFILES)
    gitignore.write_text(text)
    git(dest, "init", "-q", "-b", "master")
    return f"{DEBIAN_PACKAGE} ({tarball.name}, {tarball.stat().st_size} bytes)"


def _import_tree(source: pathlib.Path, dest: pathlib.Path) -> str:
    if not (source / "Makefile").exists() or not (source / "Kconfig").exists():
        raise UserError(f"{{source}} {source}: not a Linux kernel source tree (no Makefile/Kconfig)",
                        params=("source",))
    if (source / ".git").exists():
        run(["git", "clone", "-q", str(source), str(dest)], what=f"git clone {source}", error=BuildError)
        git(dest, "checkout", "-q", "-b", "fastpath-lab")
        return f"{source} at {git(dest, 'rev-parse', 'HEAD')}"
    run(["cp", "-a", f"{source}/.", str(dest)], what=f"copying {source}", error=BuildError)
    git(dest, "init", "-q", "-b", "master")
    return str(source)


def make_lab_config(tree: pathlib.Path) -> None:
    """tinyconfig + the lab fragment -> arch/x86/configs/fastpath_lab_defconfig (and .config)."""
    make = ["make", "-C", str(tree), "-s", "ARCH=x86_64"]
    run([*make, "tinyconfig"], what="make tinyconfig", error=BuildError)
    run([str(tree / "scripts/kconfig/merge_config.sh"), "-m", ".config", str(FRAGMENT)], cwd=tree,
        what="merge_config.sh", error=BuildError)
    run([*make, "olddefconfig"], what="make olddefconfig", error=BuildError)
    config = set((tree / ".config").read_text().splitlines())
    wanted = [ln for ln in FRAGMENT.read_text().splitlines()
              if ln.startswith("CONFIG_") or ln.endswith(" is not set")]
    missing = [ln for ln in wanted if ln not in config]
    if missing:
        raise BuildError(f"{tree}/.config: the lab config did not take: {', '.join(missing)} "
                         f"(fragment {FRAGMENT})")
    run([*make, "savedefconfig"], what="make savedefconfig", error=BuildError)
    shutil.move(tree / "defconfig", tree / DEFCONFIG_PATH)


def prepare(dest: str | os.PathLike, source: str | os.PathLike | None = None) -> str:
    """Make a lab kernel tree in ``dest``; return the base commit SHA."""
    dest = pathlib.Path(dest).expanduser().resolve()
    _check_target(dest)
    started = time.monotonic()
    origin = _import_tarball(dest) if source is None else _import_tree(
        pathlib.Path(source).expanduser().resolve(), dest)
    make_lab_config(dest)
    with open(dest / ".git/info/exclude", "a") as fh:
        fh.write(f"/{OUT_DIR}/\n")
    git(dest, "add", "-A" if source is None else str(DEFCONFIG_PATH))
    env = {**LAB_IDENTITY, "GIT_AUTHOR_DATE": BASE_DATE, "GIT_COMMITTER_DATE": BASE_DATE}
    git(dest, "commit", "-q", "--no-verify", "--allow-empty", "-m",
        f"fastpath lab: base tree with {DEFCONFIG}\n\nSource: {origin}\n"
        f"Config: make tinyconfig + fastpath/lab/files/lab.config ({fragment_hash()})", env=env)
    base = git(dest, "rev-parse", "HEAD")
    git(dest, "tag", "-f", BASE_TAG, base)
    info = {"base": base, "source": origin, "fragment": fragment_hash()}
    (dest / ".git" / INFO_FILE).write_text(json.dumps(info, indent=1) + "\n")
    log.info("prepared %s in %.0f s", dest, time.monotonic() - started)
    return base


def tree_info(tree: str | os.PathLike) -> dict:
    """What prepare() recorded about a lab tree; UserError if it is not one."""
    path = pathlib.Path(tree).expanduser().resolve() / ".git" / INFO_FILE
    if not path.exists():
        raise UserError(f"{tree}: not a lab kernel tree (no .git/{INFO_FILE}; run `fastpath lab kernel`)")
    return json.loads(path.read_text())


def head_sha(tree: pathlib.Path) -> str:
    """HEAD's SHA, with ``-dirty`` when tracked files differ from it."""
    sha = git(tree, "rev-parse", "HEAD")
    dirty = git(tree, "status", "--porcelain", "--untracked-files=no")
    return f"{sha}-dirty" if dirty else sha


def make_env(sha: str) -> dict:
    """Environment that stamps the build: `uname -v` = '#<sha12>[-dirty] SMP ...'."""
    version = sha[:12] + ("-dirty" if sha.endswith("-dirty") else "")
    return {"KBUILD_BUILD_VERSION": version, "KBUILD_BUILD_USER": "fastpath",
            "KBUILD_BUILD_HOST": "fastpath-lab", "LOCALVERSION": "", "ARCH": "x86_64"}


def _make(tree: pathlib.Path, targets: list[str], env: dict, logfile: pathlib.Path,
          jobs: int | None = None, extra: tuple[str, ...] = ()) -> None:
    cmd = ["make", "-C", str(tree), f"-j{jobs or os.cpu_count() or 1}", *extra, *targets]
    if shutil.which("ccache"):
        cmd.insert(3, "CC=ccache gcc")
    log.info("build: %s", " ".join(cmd))
    with open(logfile, "a") as out:
        proc = subprocess.run(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        lines = logfile.read_text(errors="replace").splitlines()
        errors = [ln for ln in lines if "error:" in ln or "Error " in ln] or lines[-3:]
        raise BuildError(f"kernel build failed in {tree} (make {' '.join(targets)}): "
                         f"{errors[0].strip() if errors else 'no output'} (log: {logfile})")


def build(tree: str | os.PathLike, output: str | os.PathLike | None = None,
          jobs: int | None = None) -> BuildResult:
    """Build bzImage and modules.tar.xz of the checked-out commit; return their paths."""
    tree = pathlib.Path(tree).expanduser().resolve()
    if not (tree / "Makefile").exists():
        raise UserError(f"{tree}: not a kernel tree (no Makefile)")
    started = time.monotonic()
    sha = head_sha(tree)
    out = pathlib.Path(output).expanduser().resolve() if output else tree / OUT_DIR / "out" / sha[:12]
    out.mkdir(parents=True, exist_ok=True)
    logfile = out / "build.log"
    logfile.write_text("")
    env = make_env(sha)
    if (tree / DEFCONFIG_PATH).exists():
        _make(tree, [DEFCONFIG], env, logfile, jobs)
    elif not (tree / ".config").exists():
        raise UserError(f"{tree}: no {DEFCONFIG_PATH} and no .config; run `fastpath lab kernel` first")
    _make(tree, ["bzImage", "modules"], env, logfile, jobs)
    image = out / "bzImage"
    shutil.copyfile(tree / "arch/x86/boot/bzImage", image)
    modules = out / "modules.tar.xz"
    with tempfile.TemporaryDirectory(prefix="fastpath-modules-") as stage:
        _make(tree, ["modules_install"], env, logfile, jobs, (f"INSTALL_MOD_PATH={stage}",))
        run(["tar", "-cJf", str(modules), "-C", stage, "."], what="tar modules", error=BuildError)
    release = run(["make", "-C", str(tree), "-s", "kernelrelease"], env=env, error=BuildError).strip()
    (out / "gitsha").write_text(sha + "\n")
    seconds = time.monotonic() - started
    log.info("built %s (%s) in %.0f s", image, sha[:12], seconds)
    return BuildResult(image=image, modules=modules, gitsha=sha, release=release, seconds=seconds)
