"""The bisection's git adapter: every git command fastpath runs in a kernel tree goes
through ``git()`` here (one way to run git, one way to report its failures)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import tempfile
from dataclasses import dataclass

from fastpath.errors import BuildError, UserError


def git(tree: pathlib.Path, *args: str, check: bool = True) -> str:
    """git in the kernel tree; stdout stripped. A failure is a UserError naming the command."""
    proc = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(f"git {' '.join(args)} in {tree} failed" + (f": {last[-1]}" if last else ""))
    return proc.stdout.strip()


@dataclass
class Build:
    gitsha: str
    image: str
    modules: str | None


def build(tree: pathlib.Path, rev: str, ctx_path: pathlib.Path, scripts: pathlib.Path, home: str) -> Build:
    """Check out ``rev``, build it with build_local_kernel.sh (its outputs stay per commit in
    the tree's .fastpath-build/), and return to ``home``. BuildError when it does not build."""
    git(tree, "checkout", "-q", rev)
    try:
        with tempfile.TemporaryDirectory(prefix="fastpath-build-") as tmp:
            env_file = os.path.join(tmp, ".env")
            proc = subprocess.run([str(scripts / "build_local_kernel.sh"), "--context", str(ctx_path)], cwd=tree,
                                  env={**os.environ, "FASTPATH_ENV_FILE": env_file}, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr or proc.stdout).strip().splitlines()
                raise BuildError(f"{rev[:12]} does not build" + (f": {last[-1]}" if last else ""))
            env = dict(line.split("=", 1) for line in pathlib.Path(env_file).read_text().splitlines() if "=" in line)
    finally:
        git(tree, "checkout", "-q", "-f", home)
    return Build(env["GITSHA"], env["KERNEL_PATH"], env.get("MODULES_PATH") or None)


# The build queue's command (fastpath.builds.BuildQueue) for the same build as ``build()``:
# build_local_kernel.sh in the queue's worktree of the tree (the tree's own .config copied in
# when it has one and the worktree's differs), then the image and modules copied into the
# queue's output folder, with the .env the script wrote (its GITSHA).
_AHEAD = r'''set -e
out="$1"; main="$2"; shift 2
if [ -f "$main/.config" ] && ! cmp -s "$main/.config" .config; then cp "$main/.config" .config; fi
FASTPATH_ENV_FILE="$out/.env" "$@"
image="$(sed -n 's/^KERNEL_PATH=//p' "$out/.env")"; modules="$(sed -n 's/^MODULES_PATH=//p' "$out/.env")"
cp "$image" "$out/$(basename "$image")"
if [ -n "$modules" ]; then cp "$modules" "$out/modules.tar.xz"; fi
'''


def ahead_command(tree: pathlib.Path, ctx_path: pathlib.Path, scripts: pathlib.Path) -> tuple[str, ...]:
    """The command a BuildQueue runs to build one commit as ``build()`` does."""
    return ("sh", "-c", _AHEAD, "build-ahead", "{output}", str(tree), str(scripts / "build_local_kernel.sh"),
            "--context", str(ctx_path))


def from_queue(b) -> Build:
    """A BuildQueue's build (of ``ahead_command``) as ``build()`` returns it."""
    env_file = b.image.parent / ".env"
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line) \
        if env_file.exists() else {}
    return Build(env.get("GITSHA") or b.sha, str(b.image), str(b.modules) if b.modules else None)


def commits(tree: pathlib.Path, good: str, bad: str) -> list[str]:
    """The range as the engine sees it: the good commit, then every commit of good..bad on
    the first-parent line, oldest first, the bad one last (full SHAs). A merge counts as one
    commit of that line (its side branch is not bisected into)."""
    line = git(tree, "rev-list", "--reverse", "--first-parent", f"{good}..{bad}").split()
    if not line or line[-1] != git(tree, "rev-parse", f"{bad}^{{commit}}"):
        raise UserError(f"{bad[:12]} is not a descendant of {good[:12]} in {tree}")
    return [git(tree, "rev-parse", f"{good}^{{commit}}")] + line


def subjects(tree: pathlib.Path, shas: list[str]) -> list[str]:
    """Each commit's subject line (one git call)."""
    if not shas:
        return []
    out = git(tree, "log", "--no-walk=unsorted", "--format=%s", *shas)
    lines = out.splitlines()
    return lines if len(lines) == len(shas) else [""] * len(shas)


def authors(tree: pathlib.Path, shas: list[str]) -> tuple[list[str], list[str]]:
    """Each commit's author ("Name <email>") and author date (ISO 8601), one git call: the
    context then says who wrote the culprit without the tree at hand (`bisect report`)."""
    if not shas:
        return [], []
    lines = git(tree, "log", "--no-walk=unsorted", "--format=%an <%ae>%x1f%aI", *shas).splitlines()
    if len(lines) != len(shas):
        return [""] * len(shas), [""] * len(shas)
    pairs = [line.partition("\x1f")[::2] for line in lines]
    return [a for a, _ in pairs], [d for _, d in pairs]


def record_answer(tree: pathlib.Path, good: list[str], bad: list[str], skipped: list[str]) -> str:
    """Write a bisection's answer into git as marks (``git bisect start``, then good, bad
    and skip marks), so that ``git bisect log`` and git's own "is the first bad commit"
    show it; returns git's bisect log. ``bad`` newest first and ``good`` oldest first: git
    keeps the last bad mark as the bisection's bad end. The bisection is left in place for the user to read
    (``git bisect reset`` ends it)."""
    if subprocess.run(["git", "-C", str(tree), "bisect", "log"], capture_output=True).returncode == 0:
        git(tree, "bisect", "reset")
    git(tree, "bisect", "start", "--no-checkout")
    for sha in bad:
        git(tree, "bisect", "bad", sha)
    for sha in good:
        git(tree, "bisect", "good", sha)
    for sha in skipped:
        git(tree, "bisect", "skip", sha, check=False)
    return git(tree, "bisect", "log")
