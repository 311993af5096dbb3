"""`fastpath lab history`: a demo history on a lab tree with one real performance regression.

N small commits on top of HEAD, each a harmless edit of real kernel code comments or docs
("does not" for "doesn't" and the like), except:

* the culprit, which makes getppid() (kernel/sys.c) re-read the parent's pid in a loop, so
  fp-syscall gets about ``regression_pct`` percent slower;
* optionally a commit that breaks the build (``broken_build_at=K``; commit K+1 fixes it);
* optionally a commit whose kernel panics at boot (``panic_at=K``; commit K+1 fixes it).

The answer is stored in ``.git/fastpath-lab-history.json`` (not in the tree, not in a commit
message) and printed by ``fastpath lab culprit``. The same seed gives the same commits.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import random
import re

from fastpath.errors import UserError
from fastpath.lab import kernel
from fastpath.lab.home import git

RECORD = "fastpath-lab-history.json"
# One extra parent-pid lookup in getppid() costs about this share of an fp-syscall call in the
# lab VM under TCG (measured; see docs/lab.md). Iterations = regression_pct / this.
PCT_PER_ITERATION = 0.55

C_FILES = ["kernel/fork.c", "kernel/exit.c", "kernel/sys.c", "kernel/signal.c", "kernel/sched/core.c",
           "kernel/sched/fair.c", "kernel/time/timekeeping.c", "kernel/time/hrtimer.c", "kernel/pid.c",
           "kernel/workqueue.c", "kernel/printk/printk.c", "mm/memory.c", "mm/mmap.c", "mm/page_alloc.c",
           "fs/pipe.c", "fs/read_write.c", "fs/exec.c", "fs/namei.c", "fs/open.c", "lib/string.c",
           "net/core/dev.c", "net/ipv4/tcp.c", "drivers/tty/tty_io.c", "ipc/msg.c"]
REWORDS = [("doesn't", "does not"), ("can't", "cannot"), ("isn't", "is not"), ("won't", "will not"),
           ("don't", "do not"), ("aren't", "are not"), ("it's", "it is"), ("e.g. ", "for example "),
           ("i.e. ", "that is ")]
AUTHORS = [("Ada Kernelova", "ada@example.org"), ("Linus Lab", "llab@example.org"),
           ("Mei Sched", "mei@example.org"), ("Otto Pipe", "otto@example.org"),
           ("Ravi Memory", "ravi@example.org")]
COMMENT_LINE = re.compile(r"^\s*(\*|/\*|//)")

GETPPID_OLD = ("\tint pid;\n\n\trcu_read_lock();\n"
               "\tpid = task_tgid_vnr(rcu_dereference(current->real_parent));\n")
GETPPID_NEW = ("\tstruct task_struct *parent;\n\tint pid, i;\n\n\trcu_read_lock();\n"
               "\tparent = rcu_dereference(current->real_parent);\n"
               "\t/* Let a concurrent reparent (the parent exiting) settle first. */\n"
               "\tfor (i = 0; i < {n}; i++)\n"
               "\t\tparent = rcu_dereference(current->real_parent);\n"
               "\tpid = task_tgid_vnr(parent);\n")
BREAK_OLD, BREAK_NEW = "\tdo_exit((error_code&0xff)<<8);\n", "\tdo_exit((eror_code & 0xff) << 8);\n"
PANIC_ANCHOR = "\tkernel_init_freeable();\n"
PANIC_LINE = '\tpanic("fastpath lab: boot failure injected by `fastpath lab history --panic-at`");\n'


def _positions(n: int, rng: random.Random, culprit_at: int | None, broken_build_at: int | None,
               panic_at: int | None) -> dict[int, str]:
    special: dict[int, str] = {}
    for param, k, kinds in (("broken_build_at", broken_build_at, ("break", "unbreak")),
                            ("panic_at", panic_at, ("panic", "unpanic"))):
        if k is None:
            continue
        if not 1 <= k < n:
            raise UserError(f"{{{param}}} {k}: must be between 1 and {n - 1} (commit K+1 fixes it)",
                            params=(param,))
        if k in special or k + 1 in special:
            raise UserError(f"{{{param}}} {k}: overlaps another injected commit", params=(param,))
        special[k], special[k + 1] = kinds
    free = [i for i in range(1, n + 1) if i not in special]
    if culprit_at is None:
        culprit_at = rng.choice(free)
    elif culprit_at not in free:
        raise UserError(f"{{culprit_at}} {culprit_at}: must be in 1..{n} and not a broken/panic commit",
                        params=("culprit_at",))
    special[culprit_at] = "culprit"
    return special


def _subsystem(path: str) -> str:
    parts = pathlib.PurePosixPath(path).with_suffix("").parts
    return "/".join(parts[1:] if parts[0] == "kernel" and len(parts) > 1 else parts)


def _reword(tree: pathlib.Path, rng: random.Random, docs: list[str]) -> str | None:
    """Apply one harmless rewording in a C comment or a doc; return the commit subject."""
    use_doc = rng.random() < 0.4
    candidates = rng.sample(docs, min(len(docs), 40)) if use_doc else rng.sample(C_FILES, len(C_FILES))
    for path in candidates:
        lines = (tree / path).read_text(errors="surrogateescape").splitlines(keepends=True)
        for old, new in rng.sample(REWORDS, len(REWORDS)):
            pattern = re.compile(r"(?<![\w'])" + re.escape(old))
            for idx, line in enumerate(lines):
                if (use_doc or COMMENT_LINE.match(line)) and pattern.search(line):
                    lines[idx] = pattern.sub(new, line, count=1)
                    (tree / path).write_text("".join(lines), errors="surrogateescape")
                    if use_doc:
                        topic = pathlib.PurePosixPath(path).relative_to("Documentation").with_suffix("")
                        return f"docs: {topic}: write \"{new.strip()}\" instead of \"{old.strip()}\""
                    return f"{_subsystem(path)}: comment: spell out \"{old.strip()}\""
    return None


def _edit(tree: pathlib.Path, path: str, old: str, new: str) -> None:
    file = tree / path
    text = file.read_text()
    if old not in text:
        raise UserError(f"{file}: does not contain the code the lab history edits "
                        f"(is this a linux 6.1 lab tree?): {old.strip()!r}")
    file.write_text(text.replace(old, new, 1))


def _apply(tree: pathlib.Path, kind: str, rng: random.Random, docs: list[str], iterations: int) -> str:
    if kind == "culprit":
        _edit(tree, "kernel/sys.c", GETPPID_OLD, GETPPID_NEW.replace("{n}", str(iterations)))
        return "sys: make getppid() robust against concurrent reparenting"
    if kind == "break":
        _edit(tree, "kernel/exit.c", BREAK_OLD, BREAK_NEW)
        return "exit: tidy up the exit(2) status encoding"
    if kind == "unbreak":
        _edit(tree, "kernel/exit.c", BREAK_NEW, BREAK_OLD)
        return "exit: fix build after status encoding cleanup"
    if kind == "panic":
        _edit(tree, "init/main.c", PANIC_ANCHOR, PANIC_ANCHOR + PANIC_LINE)
        return "init: check early init state before freeing init memory"
    if kind == "unpanic":
        _edit(tree, "init/main.c", PANIC_ANCHOR + PANIC_LINE, PANIC_ANCHOR)
        return "init: revert \"check early init state before freeing init memory\""
    subject = _reword(tree, rng, docs)
    if subject is None:
        raise UserError(f"{tree}: found nothing left to reword for a harmless commit")
    return subject


def make_history(tree: str | os.PathLike, commits: int, *, regression_pct: float = 10.0, seed: int = 1,
                 culprit_at: int | None = None, broken_build_at: int | None = None,
                 panic_at: int | None = None) -> dict:
    """Add ``commits`` commits on a new branch ``lab-history``; return (and store) the record."""
    tree = pathlib.Path(tree).expanduser().resolve()
    kernel.tree_info(tree)
    if git(tree, "status", "--porcelain", "--untracked-files=no"):
        raise UserError(f"{tree}: has uncommitted changes; commit or discard them first")
    rng = random.Random(seed)
    plan = _positions(commits, rng, culprit_at, broken_build_at, panic_at)
    iterations = max(1, round(regression_pct / PCT_PER_ITERATION))
    docs = sorted(p for p in git(tree, "ls-files", "Documentation").splitlines() if p.endswith(".rst"))
    base = git(tree, "rev-parse", "HEAD")
    git(tree, "checkout", "-q", "-B", "lab-history")
    start = datetime.datetime.fromisoformat(kernel.BASE_DATE) + datetime.timedelta(days=1)
    record = {"base": base, "seed": seed, "regression_pct": regression_pct, "iterations": iterations,
              "commits": [], "broken_build": [], "panic": []}
    for i in range(1, commits + 1):
        kind = plan.get(i, "harmless")
        subject = _apply(tree, kind, rng, docs, iterations)
        name, email = rng.choice(AUTHORS)
        when = (start + datetime.timedelta(hours=3 * i)).isoformat()
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when}
        git(tree, "commit", "-q", "--no-verify", "-a", "-m", f"{subject}\n\nNo functional change intended.\n"
            if kind == "harmless" else subject, env=env)
        sha = git(tree, "rev-parse", "HEAD")
        record["commits"].append(sha)
        if kind == "culprit":
            record.update(culprit=sha, culprit_index=i, culprit_subject=subject)
        elif kind in ("break", "panic"):
            record["broken_build" if kind == "break" else "panic"].append(sha)
    record["head"] = record["commits"][-1]
    (tree / ".git" / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return record


def load(tree: str | os.PathLike) -> dict:
    """The record `make_history` stored; UserError if the tree has none."""
    path = pathlib.Path(tree).expanduser().resolve() / ".git" / RECORD
    if not path.exists():
        raise UserError(f"{tree}: no lab history (no .git/{RECORD}); run `fastpath lab history` first")
    return json.loads(path.read_text())
