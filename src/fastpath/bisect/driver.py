"""The bisection algorithm, pure: a linear history and a "measure" callback, no I/O.

``bisect(commits, test)`` does what `git bisect run` does on a linear history:
``commits[0]`` is known good, ``commits[-1]`` known bad, ``test(commit)`` returns GOOD,
BAD or SKIP. It tests the commit that halves the remaining range; a skipped commit is never
tested again and the untested commit nearest the middle is taken instead. It ends with the
first bad commit, or, when only skipped commits are left between the last good and the first
bad one, with the list of commits any of which could be the first bad one (git says "There
are only 'skip'ped commits left to test").

``classify(judge, values, take)`` runs one step of a bisection the way `bisect run` does: ask
the policy, and while it is UNDECIDED take the sessions it asks for, one call of ``take``
per session; it returns the final Decision. The simulator and the CLI share both.

``confirm(judge, parent, culprit, take_parent, take_culprit)`` re-tests a named culprit
against its parent in interleaved sessions (parent, culprit, parent, ...) with a
judges.ConfirmJudge, as `fastpath bisect confirm` does. ``confirm_candidates`` does that for
each candidate git left when only skipped commits remained, in order, until one is
confirmed (what a user does with `bisect confirm` then: each candidate's ``confirm-<sha12>``
sessions are recorded once; ``pairable`` keeps a confirmation from pairing another one's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fastpath.bisect.verdict import BAD, GOOD, SKIP, UNDECIDED, Decision


@dataclass
class BisectResult:
    first_bad: object | None                 # the culprit, None when only skipped commits remain
    candidates: list = field(default_factory=list)   # possible culprits (just [first_bad] when found)
    tested: list = field(default_factory=list)       # [(commit, outcome)] in test order

    @property
    def only_skipped(self) -> bool:
        return self.first_bad is None


def _pick(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The untested, unskipped index in (lo, hi) nearest the middle, or None."""
    mid = (lo + hi) // 2
    for off in range(hi - lo):
        for i in (mid - off, mid + off) if off else (mid,):
            if lo < i < hi and i not in skipped:
                return i
    return None


def bisect(commits: Sequence, test: Callable[[object], str]) -> BisectResult:
    """Find the first bad commit of ``commits`` (first good, last bad) with ``test``."""
    if len(commits) < 2:
        raise ValueError("bisect needs a good and a bad commit")
    lo, hi = 0, len(commits) - 1
    skipped: set[int] = set()
    result = BisectResult(None)
    while True:
        i = _pick(lo, hi, skipped)
        if i is None:
            break
        outcome = test(commits[i])
        result.tested.append((commits[i], outcome))
        if outcome == GOOD:
            lo = i
        elif outcome == BAD:
            hi = i
        elif outcome == SKIP:
            skipped.add(i)
        else:
            raise ValueError(f"test() returned {outcome!r}; expected GOOD, BAD or SKIP")
    between = [commits[i] for i in range(lo + 1, hi) if i in skipped]
    if between:
        result.candidates = between + [commits[hi]]
    else:
        result.first_bad = commits[hi]
        result.candidates = [commits[hi]]
    return result


def classify(judge, values: Sequence[float], take: Callable[[], float]) -> Decision:
    """Decide one commit: start from ``values`` (sessions already measured), then call
    ``take()`` for each further session the policy asks for. Returns a final Decision."""
    values = list(values)
    decision = judge.decide(values)
    while decision.outcome == UNDECIDED:
        for _ in range(max(decision.need, 1)):
            values.append(take())
        decision = judge.decide(values)
    return decision


def pairable(parent: Sequence[float], culprit: Sequence[float]) -> tuple[list, list]:
    """The recorded sessions a confirmation pairs: the most recent ones. A confirmation boots
    the parent first and then alternately, so one of its own (resumed) runs has as many parent
    sessions as culprit sessions, or one more. More than that on either side are sessions of
    another confirmation (a candidate confirmed earlier, as the culprit, is the next one's
    parent); pairing those would compare sessions far apart in time, where a drifting machine
    does not cancel, so they are left out (and without culprit sessions, all parent ones)."""
    parent, culprit = list(parent), list(culprit)
    if len(culprit) > len(parent):
        culprit = culprit[len(culprit) - len(parent):]
    if not culprit:
        parent = []
    elif len(parent) > len(culprit) + 1:
        parent = parent[len(parent) - len(culprit) - 1:]
    return parent, culprit


def confirm(judge, parent: Sequence[float], culprit: Sequence[float], take_parent: Callable[[], float],
            take_culprit: Callable[[], float]) -> Decision:
    """Confirm a named culprit (judges.ConfirmJudge): start from the sessions already
    measured (their most recent pairs: ``pairable``), then boot the parent and the culprit alternately, one session per call, while
    the judge is UNDECIDED. Returns the final Decision (BAD confirmed, GOOD rejected, SKIP)."""
    parent, culprit = pairable(parent, culprit)
    decision = judge.decide(parent, culprit)
    while decision.outcome == UNDECIDED:
        if len(parent) <= len(culprit):
            parent.append(take_parent())
        else:
            culprit.append(take_culprit())
        decision = judge.decide(parent, culprit)
    return decision


def confirm_candidates(judge, candidates: Sequence, parent_of: Callable[[object], object],
                       take: Callable[[object], float], recorded: dict | None = None) -> tuple[object | None, list]:
    """Confirm each candidate against its parent (``parent_of``), in order, until one is
    CONFIRMED; ``take(commit)`` boots one session of a commit. ``recorded`` ({commit: session
    values}, updated) holds the confirmation sessions already measured, which are reused (a
    candidate's sessions are its successor's parent sessions). Returns (the confirmed
    candidate or None, [(candidate, Decision)] in order)."""
    recorded = {} if recorded is None else recorded
    decisions = []

    def taker(commit):
        def one() -> float:
            value = take(commit)
            recorded.setdefault(commit, []).append(value)
            return value
        return one

    for commit in candidates:
        parent = parent_of(commit)
        d = confirm(judge, recorded.get(parent, []), recorded.get(commit, []), taker(parent), taker(commit))
        decisions.append((commit, d))
        if d.outcome == BAD:
            return commit, decisions
    return None, decisions


__all__ = ["bisect", "classify", "confirm", "confirm_candidates", "pairable", "BisectResult", "GOOD", "BAD", "SKIP"]
