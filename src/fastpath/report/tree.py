"""What a report reads from the kernel git tree (optional, `--tree PATH`): the history between
the two ends and each commit's subject, author and date."""

from __future__ import annotations

import pathlib
import subprocess

from fastpath.bisect.auto import git
from fastpath.errors import UserError
from fastpath.report.model import Commit

SEP = "\x1f"


class Tree:
    """The kernel tree, or None-like lookups (SHAs only) when no path is given."""

    def __init__(self, path: str | None):
        self.path = pathlib.Path(path).expanduser().resolve() if path else None
        if self.path is not None:
            if not self.path.is_dir():
                raise UserError(f"{{tree}} {path}: no such directory", params=("tree",))
            if not git(self.path, "rev-parse", "--git-dir", check=False):
                raise UserError(f"{{tree}} {path}: not a git tree", params=("tree",))
        self._known: dict[str, Commit] = {}

    def commit(self, sha: str, subject: str = "") -> Commit:
        """The commit with its subject, author and date from the tree ("" for each without one)."""
        if sha in self._known:
            return self._known[sha]
        found = Commit(sha, subject)
        if self.path is not None and sha:
            out = git(self.path, "log", "-1", f"--format=%H{SEP}%s{SEP}%an <%ae>{SEP}%aI", sha, "--",
                      check=False)
            parts = out.split(SEP)
            if len(parts) == 4:
                found = Commit(parts[0], parts[1], parts[2], parts[3])
        self._known[sha] = found
        return found

    def prefetch(self, shas) -> None:
        """Look up many commits with one git call (a kernel range holds thousands)."""
        todo = [s for s in dict.fromkeys(shas) if s and s not in self._known]
        if self.path is None or not todo:
            return
        proc = subprocess.run(["git", "-C", str(self.path), "log", "--no-walk=unsorted", "--stdin",
                               f"--format=%H{SEP}%s{SEP}%an <%ae>{SEP}%aI"], input="\n".join(todo) + "\n",
                              capture_output=True, text=True)
        if proc.returncode != 0:        # an unknown SHA among them: look each up (SHA only if unknown)
            return
        for line in proc.stdout.splitlines():
            parts = line.split(SEP)
            if len(parts) == 4:
                self._known[parts[0]] = Commit(*parts)

    def candidates(self, goods, bads) -> list[str]:
        """git bisect's rule: the commits that may still be the first bad one, oldest first, the
        tightest bad commit last: reachable from that bad commit and from none of the good ones
        (merges included). One commit left: it is the first bad commit."""
        best: list[str] | None = None
        for bad in dict.fromkeys(bads):
            left = git(self.path, "rev-list", "--reverse", "--topo-order", bad, "--not", *goods).split()
            if left and (best is None or len(left) < len(best)):
                best = left
        return best or []

    def parent(self, sha: str) -> str:
        """The first parent's full SHA ("" for a root commit)."""
        return git(self.path, "rev-parse", "-q", "--verify", f"{sha}^1", check=False)

    def history(self, good: str, bad: str) -> list[str]:
        """Full SHAs from good (first) to bad (last), as git bisect walks them; [] without a tree
        or when git does not know both ends."""
        if self.path is None:
            return []
        ends = [git(self.path, "rev-parse", "-q", "--verify", f"{s}^{{commit}}", check=False) for s in (good, bad)]
        if not all(ends):
            return []
        between = git(self.path, "rev-list", "--reverse", "--topo-order", f"{ends[0]}..{ends[1]}", check=False)
        return [ends[0], *between.split()] if between else []
