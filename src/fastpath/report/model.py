"""The data of a bisection report: plain frozen objects, no I/O (bisection.py builds them).

A BisectionReport is what `bisect report`, `bisect status` and `bisect log` render (text.py,
html.py, status.py); ``as_dict()`` is its `--format json`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

FOUND = "found"                  # the first bad commit is known
RUNNING = "running"              # commits are left to test
INCONCLUSIVE = "inconclusive"    # only skipped commits left (or the engine could not decide)
BOUNDED = "bounded"              # no history known (no --tree, no engine): between two tested commits


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str = ""
    author: str = ""             # "Name <email>", "" without a tree
    date: str = ""               # author date, ISO 8601


@dataclass(frozen=True)
class Point:
    """One measured commit of the bisection (a baseline end or a tested commit)."""

    commit: Commit
    swprofile: str
    role: str                    # "good" or "bad" (a baseline end) or "tested"
    verdict: str                 # GOOD, BAD, SKIP (git bisect), "" for an engine's commit
    values: tuple[float, ...]    # per-session values of the bisected result class, session order
    mean: float | None
    ci95: tuple[float, float] | None
    order: int                   # 0 for the ends, then 1, 2, ... in the order first tested
    position: int | None = None  # index in the history (good end 0) when known
    posterior: float | None = None   # the engine's P(first bad commit == this one)
    reason: str = ""             # the policy's one line of evidence
    time: str = ""               # when it was decided (ISO 8601)

    @property
    def sessions(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ClassRow:
    """One result class of the benchmark: the culprit against its parent (analysis.compare)."""

    resultclass: str
    unit: str
    improvement: str
    parent_mean: float
    parent_stddev_pct: float | None  # sd of session means / |mean| * 100; None below 2 sessions
    parent_sessions: int
    culprit_mean: float
    culprit_stddev_pct: float | None
    culprit_sessions: int
    change_pct: float | None
    p_value: float | None
    mark: str | None             # "R" / "I", only when both sides have >= 2 sessions
    note: str = ""               # why there is no mark


@dataclass(frozen=True)
class Candidate:
    sha: str
    probability: float | None = None
    step: float | None = None
    step_ci95: tuple[float, float] | None = None
    subject: str = ""


@dataclass(frozen=True)
class Answer:
    status: str                  # FOUND, RUNNING, INCONCLUSIVE or BOUNDED
    culprit: Commit | None       # the (likely) first bad commit; None when not known
    parent: Commit | None        # what the culprit is compared with (its parent when known)
    parent_is_parent: bool       # False: ``parent`` is only the nearest measured commit below
    probability: float | None = None
    step: float | None = None            # culprit mean - parent mean, in the result class's unit
    step_ci95: tuple[float, float] | None = None
    change_pct: float | None = None      # step / |parent mean| * 100
    change_ci95_pct: tuple[float, float] | None = None
    runner_up: Candidate | None = None
    further: tuple[Candidate, ...] = ()
    improvements: tuple[Candidate, ...] = ()
    candidates: tuple[Candidate, ...] = ()   # INCONCLUSIVE / RUNNING: where it may still be


@dataclass(frozen=True)
class Remaining:
    """What is left to do (for `bisect status`)."""

    low: Commit                  # the newest commit known good
    high: Commit                 # the oldest commit known bad
    commits: int | None          # untested commits between them; None when the history is unknown
    steps: int | None            # git bisect steps to go (about log2 of the range)
    sessions: float | None       # sessions to go, estimated
    seconds: float | None        # wall time to go, estimated
    basis: str = ""              # how the estimate was made, one line


@dataclass(frozen=True)
class LogEntry:
    kind: str                    # good, bad, skip, session, found
    sha: str
    text: str                    # the evidence, one line
    time: str = ""


@dataclass(frozen=True)
class BisectionReport:
    context: str
    benchmark: str
    resultclass: str
    unit: str
    improvement: str
    policy: str
    engine: str                  # "" without an engine block, else its name ("posterior")
    params: dict                 # the benchmark's parameters as run
    defaults: dict               # warmups, repeats, sessions
    sut: dict                    # the SUT's fingerprint as stored (id, cpu_model, cpu_count, memory, ...)
    cmdline: tuple[str, ...]
    sysctl: tuple[str, ...]
    bootscript: tuple[str, ...]
    kernel_name: str             # `uname -r` of the culprit's (or the bad) swprofile
    userspace: str
    output_store: str            # masked URL
    good: Point
    bad: Point
    path: tuple[Point, ...]      # tested commits in test order
    answer: Answer
    classes: tuple[ClassRow, ...]
    remaining: Remaining | None  # None when the bisection is over
    log: tuple[LogEntry, ...]
    reproduce: tuple[str, ...]
    history: tuple[Commit, ...] = ()     # good end .. bad end, when known
    posterior: tuple[float, ...] = ()    # the engine's, over ``history``
    sessions_spent: int = 0              # sessions of tested commits (baselines not counted)
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["good"]["sessions"] = self.good.sessions
        out["bad"]["sessions"] = self.bad.sessions
        for p, d in zip(self.path, out["path"]):
            d["sessions"] = p.sessions
        return out
