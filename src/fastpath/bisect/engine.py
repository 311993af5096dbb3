"""The bisection engine: one posterior over the whole range, pure (no I/O).

An :class:`Engine` holds every session of a bisection (commit index, value, when) and the
commits that could not be tested. ``next(k)`` says which commits to boot next, ``add`` and
``untestable`` take what came back, and ``answer()`` says what is known; ``run(engine,
take)`` is the loop that joins them, the one loop both `fastpath bisect auto` and the
simulator (bench/bisect_sim.py) run.

Commits are indices ``0..N``: 0 the good end, N the bad end, the others in history order.
The model (fastpath.bisect.posterior) is refitted after every session. The engine:

1. **measures the ends first** when they have fewer than ``min_end_sessions`` sessions or
   their levels are not yet told apart (bad - good under ``ends_z`` standard errors), the
   least measured end first; after ``end_budget`` such sessions it gives up: "refused", the
   ends are not told apart. Ends whose bad level is clearly better than good are refused at
   once.
2. **re-measures an end** every ``remeasure_every`` sessions (the one measured least
   recently), so that drift of the machine shows in the model (which corrects for it).
3. otherwise **boots the commit whose next session says most** about where the material
   changes are (see ``_scores``): while the first culprit's place is open, the entropy of
   "is this commit already at the new level", whose chance is the posterior's cumulative
   sum up to it (Horstein's probabilistic bisection: with one culprit and known levels, the
   posterior median); for further culprits, the same within each stretch between tested
   commits; each times how well one session tells the two levels apart. A commit tested
   before may be chosen again: that is how an ambiguous commit gets more sessions; but not
   for the first culprit's question when its level cannot answer it (a segment of its own,
   or inside an improvement, where it reads the same whether or not a regression hides
   before the improvement).
4. **stops** when every material change is pinned to one commit (the change is there with
   probability at least 1 - ``eps``, and more likely material than not), the range before
   the first one holds at most ``eps`` of material changes and the range after it at most
   ``further_eps`` ("found"), or at ``budget`` sessions ("inconclusive", with the candidates
   and their probabilities). Each commit next to a named change has at least
   ``min_sessions`` sessions kept (not wild): a few boots in an unusual layout (a good
   commit's boots that all landed in the upper of two layouts) must not decide it, and the
   model of normal noise would take them as a sure step. A change found next to an end
   that has only the baselines' sessions (recorded before the bisection, perhaps on another
   day) is believed only after that end is measured again.

The model takes the range to hold at least one change (``some_change``): `bisect start` and
the ends' own test (1.) have shown that the ends differ.

A *material* change makes the benchmark worse than its parent by at least ``materiality``
(a ModelParams field, 0.3) of the regression (bad - good), and leaves it that much worse
than good. The culprit is the first material change in history order; the others are
reported as further culprits, each with its step. Changes that make it better by as much
are reported as improvements and never blamed, and so is a worse step that only undoes one
(its level no worse than the worst level before it in history order): a revert.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import ndtr

from fastpath.bisect import posterior
from fastpath.bisect.posterior import Fit, ModelParams

FOUND, INCONCLUSIVE, REFUSED, RUNNING = "found", "inconclusive", "refused", "running"


@dataclass(frozen=True)
class EngineParams:
    eps: float = 0.001              # stop when the culprit holds 1 - eps of the posterior
    further_eps: float = 0.001      # ... and a further culprit after it not yet found holds at most this
    budget: int = 300               # sessions (ends included) before an inconclusive end
    min_end_sessions: int = 3       # sessions of each end before anything else
    ends_z: float = 2.0             # bad - good must be this many posterior sds above 0
    end_budget: int = 60            # end sessions to tell the ends apart before refusing
    remeasure_every: int = 10       # re-measure an end after this many sessions elsewhere
    hidden: float = 0.5             # chance an unpinned improvement hides a regression before it
    min_sessions: int = 4           # sessions of each commit next to a named change (a few boots in an unusual layout are not enough)
    model: ModelParams = field(default_factory=ModelParams)

    def with_values(self, **values) -> "EngineParams":
        """A copy with some parameters set (model parameters by their own names)."""
        model = {k: v for k, v in values.items() if k in ModelParams.__dataclass_fields__}
        own = {k: v for k, v in values.items() if k not in model}
        return replace(self, **own, model=replace(self.model, **model))


def parse_params(items) -> dict:
    """KEY=VALUE settings of engine (and model) parameters, each typed from its default
    and range-checked; UserError names the bad one."""
    from fastpath.errors import UserError

    defaults = params_dict(EngineParams())
    out: dict = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in defaults:
            raise UserError(f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(defaults))}")
        kind = type(defaults[key])
        try:
            value = (text.strip().lower() in ("1", "yes", "true", "on")) if kind is bool else kind(text)
        except ValueError:
            raise UserError(f"{key}={text}: not a {kind.__name__}") from None
        if kind in (int, float) and value < 0:
            raise UserError(f"{key}={text}: must not be negative")
        if key == "eps" and not 0 < value < 0.5:
            raise UserError(f"eps={text}: must be between 0 and 0.5")
        out[key] = value
    return out


def params_dict(p: EngineParams) -> dict:
    out = {k: getattr(p, k) for k in EngineParams.__dataclass_fields__ if k != "model"}
    out.update({k: getattr(p.model, k) for k in ModelParams.__dataclass_fields__})
    return out


@dataclass
class Change:
    """A change point: its first commit (an index), the probability it is there, and the
    step (level after - level before, in the value's own units) with a 95% interval."""
    index: int
    probability: float
    step: float
    step_ci95: tuple[float, float]
    width: int = 1                  # commits it may be (more than 1: not pinned to one)
    candidates: list[int] = field(default_factory=list)   # when not pinned: untestable commits and the end


@dataclass
class Answer:
    status: str                     # found, inconclusive, refused or running
    sessions: int                   # sessions in all (the ends' included)
    culprit: Change | None = None
    further: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    runner_up: tuple[int, float] | None = None
    candidates: list[tuple[int, float]] = field(default_factory=list)   # when inconclusive
    reverts: list[Change] = field(default_factory=list)   # worse steps that only undo an improvement
    posterior: list[float] = field(default_factory=list)  # per commit: P(a material change starts there)
    reason: str = ""
    suts: dict[str, float] = field(default_factory=dict)  # a pool's SUTs: each one's offset (value units, relative)

    @property
    def culprits(self) -> list[Change]:
        return ([self.culprit] if self.culprit else []) + list(self.further)


class Engine:
    """The state of one bisection over commits ``0..n_commits-1``. ``improvement`` is
    "lower" or "higher": which way the benchmark gets better."""

    def __init__(self, n_commits: int, improvement: str = "lower", params: EngineParams = EngineParams()):
        if n_commits < 2:
            raise ValueError("a bisection needs a good and a bad commit")
        if improvement not in ("lower", "higher"):
            raise ValueError(f"improvement must be 'lower' or 'higher', not {improvement!r}")
        self.n = n_commits
        self.sign = 1.0 if improvement == "lower" else -1.0     # oriented: larger is worse
        self.params = params
        self.index: list[int] = []
        self.value: list[float] = []
        self.clock: list[float] = []
        self.sut: list[str | None] = []
        self.baseline: int = 0          # sessions given before the engine started (not counted)
        self.skipped: set[int] = set()
        self._fit: Fit | None = None
        self._status: str | None = None
        self._thin: list[int] = []

    # -- what came back ---------------------------------------------------------------
    def add(self, index: int, value: float, baseline: bool = False, sut: str | None = None) -> None:
        """Record one session of commit ``index``. ``baseline``: taken before the engine
        started (not counted against the budget). ``sut``: the SUT of a pool that took it
        (None: the one SUT, or not known); the model gives each SUT named an offset."""
        if not 0 <= index < self.n:
            raise ValueError(f"commit index {index} outside 0..{self.n - 1}")
        if not math.isfinite(value):
            raise ValueError(f"session value {value!r} is not a number")
        self.index.append(int(index))
        self.value.append(float(value))
        self.clock.append(float(len(self.clock)))
        self.sut.append(sut)
        if baseline:
            self.baseline += 1
        self._fit = self._status = None

    def untestable(self, index: int) -> None:
        """Commit ``index`` cannot be tested (does not build or boot): never chosen again."""
        if index in (0, self.n - 1):
            raise ValueError("an end of the range cannot be skipped")
        self.skipped.add(int(index))
        self._fit = self._status = None

    @property
    def spent(self) -> int:
        """Sessions the engine asked for (the baselines given to it not counted)."""
        return len(self.index) - self.baseline

    # -- the model ---------------------------------------------------------------------
    def fit(self) -> Fit:
        if self._fit is None:
            codes: dict = {}
            suts = [codes.setdefault(x, len(codes)) for x in self.sut]
            self._fit = posterior.fit(self.n, self.index, self.sign * np.asarray(self.value), self.clock,
                                      self.params.model, sut=suts)
        return self._fit

    def _count(self, i: int) -> int:
        return sum(1 for x in self.index if x == i)

    def _ends_needed(self) -> int | None:
        """An end to measure before anything else, or None."""
        p = self.params
        last = self.n - 1
        n0, n1 = self._count(0), self._count(last)
        if min(n0, n1) < p.min_end_sessions:
            return 0 if n0 <= n1 else last
        z, sd0, sd1 = self._ends_z()
        if z <= p.ends_z:
            if abs(n0 - n1) >= 2:
                return 0 if n0 < n1 else last
            return 0 if sd0 / math.sqrt(n0) >= sd1 / math.sqrt(n1) else last
        return None

    def _ends_z(self) -> tuple[float, float, float]:
        """(bad - good over its standard error, the ends' noise sds): Welch's statistic over
        the two ends' own sessions (wild boots left out, the drift removed), not the model's
        mixture over segmentations (which, with one change expected a priori, would ask the
        ends to prove a change that `bisect start` has already shown)."""
        f = self.fit()
        y = self.sign * np.asarray(self.value) - f.correction
        idx = np.asarray(self.index)
        keep = ~f.wild
        a, b = y[(idx == 0) & keep], y[(idx == self.n - 1) & keep]
        if len(a) < 2 or len(b) < 2:
            return 0.0, 1.0, 1.0
        sa, sb = float(np.std(a, ddof=1)), float(np.std(b, ddof=1))
        floor = 1e-9 * max(1.0, abs(float(np.mean(a))))
        se = math.sqrt(max(sa, floor) ** 2 / len(a) + max(sb, floor) ** 2 / len(b))
        return (float(np.mean(b)) - float(np.mean(a))) / se, max(sa, floor), max(sb, floor)

    def _started(self) -> bool:
        """Has any commit between the ends been measured (the bisection proper begun)?"""
        return any(0 < i < self.n - 1 for i in self.index)

    def _end_sessions(self) -> int:
        last = self.n - 1
        return sum(1 for k, i in enumerate(self.index) if i in (0, last) and k >= self.baseline)

    # -- what next ---------------------------------------------------------------------
    def status(self) -> str:
        if self._status is None:
            self._status = self._decide()
        return self._status

    def _decide(self) -> str:
        p = self.params
        last = self.n - 1
        if not (self._count(0) and self._count(last)):
            return RUNNING
        f = self.fit()
        enough = min(self._count(0), self._count(last)) >= p.min_end_sessions
        z = self._ends_z()[0]
        told_apart = enough and z > p.ends_z
        if not told_apart:
            if z < -2 * p.ends_z and enough:          # bad clearly better than good
                return REFUSED
            if self._end_sessions() >= p.end_budget and not self._started():
                return REFUSED
            return INCONCLUSIVE if self.spent >= p.budget else RUNNING
        named, settled, _ = self._named(f)
        for end in (0, last):
            agree, disagree = self._fresh(f, end)
            if disagree >= 3 and disagree > agree:
                return REFUSED
        if settled and self._stale_end(f, named) is None and not self._thin:
            return FOUND
        return INCONCLUSIVE if self.spent >= p.budget else RUNNING

    def _stale_end(self, f: Fit, named: list[int]) -> int | None:
        """An end that a named change sits next to and that has no session of this
        bisection that agrees with it (only the baselines' copies, perhaps from another day):
        it is measured again before the change is believed."""
        last = self.n - 1
        for j in named:
            for end in (int(f.points[j]), int(f.points[j + 1])):
                if end in (0, last) and not self._fresh(f, end)[0]:
                    return end
        return None

    def _fresh(self, f: Fit, end: int) -> tuple[int, int]:
        """(sessions of this bisection at ``end`` that agree with its level, those that do not)."""
        agree = disagree = 0
        for k, i in enumerate(self.index):
            if i == end and k >= self.baseline:
                if f.wild[k]:
                    disagree += 1
                else:
                    agree += 1
        return agree, disagree

    def _resolved(self, f: Fit) -> np.ndarray:
        """Per gap: no commit inside it is left to test."""
        out = np.zeros(len(f.points) - 1, dtype=bool)
        for j in range(len(out)):
            lo, hi = int(f.points[j]), int(f.points[j + 1])
            out[j] = all(i in self.skipped for i in range(lo + 1, hi))
        return out

    def _named(self, f: Fit) -> tuple[list[int], bool, bool]:
        """Gaps pinned with probability >= 1 - eps; whether the first culprit's place is
        settled (the material mass before the first of them, an earlier culprit, is at most
        ``eps``); and whether that settles it all (the mass after it, a further culprit not
        found yet, is at most ``further_eps`` too)."""
        done = self._resolved(f)
        eps = self.params.eps
        named = [j for j in range(len(done)) if done[j] and f.change[j] >= 1 - eps and f.material[j] >= 0.5]
        kept = np.bincount(np.asarray(self.index)[~f.wild], minlength=self.n)
        # ... and so does each side of a pinned improvement before the first of them: a
        # regression just before an improvement hides behind it, and the commit before the
        # improvement is what says there is none
        guarded = named + [j for j in range(named[0] if named else 0) if done[j] and f.improve[j] >= 0.5]
        self._thin = [int(f.points[k]) for j in guarded for k in (j, j + 1)
                      if kept[int(f.points[k])] < self.params.min_sessions]
        if not named:
            return named, False, False
        mass = self._mass(f)
        before = float(sum(mass[j] for j in range(named[0])))
        after = float(sum(mass[j] for j in range(named[0] + 1, len(done)) if j not in named))
        first = before <= eps
        return named, first and after <= self.params.further_eps, first

    def _mass(self, f: Fit) -> np.ndarray:
        """Per gap: the chance it holds a material change still to find. The model allows
        one change per gap; a gap whose far side is materially *better* than its near side
        (an improvement not yet pinned to one commit) may also hide a change that made it
        worse before the improvement undid it, so it keeps ``hidden`` of its improvement's
        probability until it is pinned."""
        mass = np.asarray(f.material, dtype=float).copy()
        width = np.diff(f.points)
        open_ = (width >= 2) & np.array([any(i not in self.skipped for i in range(int(f.points[j]) + 1,
                                                                                    int(f.points[j + 1])))
                                         for j in range(len(width))], dtype=bool)
        mass += np.where(open_, self.params.hidden * np.asarray(f.improve, dtype=float), 0.0)
        return np.minimum(mass, 1.0)

    def _undoing(self, f: Fit) -> np.ndarray:
        """Per gap: its change only undoes an improvement (clearly no worse than the worst
        level seen before it in history order): not a culprit, whatever its step."""
        floor = self.params.model.materiality * max(f.gap, 0.0)
        at = np.zeros(len(f.level), dtype=int)          # where the worst level so far is
        for j in range(1, len(f.level)):
            at[j] = j if f.level[j] >= f.level[at[j - 1]] else at[j - 1]
        worst = f.level[at[:-1]]
        sd = np.sqrt(f.level_sd[1:] ** 2 + f.level_sd[at[:-1]] ** 2) + 1e-12
        return (f.level[1:] - worst - floor) / sd < -1.0

    def next(self, k: int = 1) -> list[int]:
        """The commits to boot next (k at once for k SUTs; fewer when fewer are worth it);
        [] when the bisection has ended."""
        if self.status() != RUNNING:
            return []
        end = self._ends_needed()
        if end is not None:
            last = self.n - 1
            return [end] + ([last if end == 0 else 0] if k > 1 else [])
        picks: list[int] = []
        f = self.fit()
        named, settled, first = self._named(f)
        stale = self._stale_end(f, named) if settled else None
        if stale is not None:
            return [stale]
        if settled and self._thin:
            return self._thin[:k]
        due = self._remeasure_due()
        if due is not None:
            picks.append(due)
        scores = self._scores(first)
        for i in np.argsort(-scores, kind="stable"):
            if len(picks) >= k:
                break
            if scores[i] <= 0:
                break
            if int(i) not in picks and not self._redundant(int(i), picks):
                picks.append(int(i))
        if not picks:
            picks = [self._fallback()]
        return picks[:k]

    def _remeasure_due(self) -> int | None:
        every = self.params.remeasure_every
        if every <= 0:
            return None
        last = self.n - 1
        seen = {0: -1, last: -1}
        for k, i in enumerate(self.index):
            if i in seen:
                seen[i] = k
        newest = max(seen.values())
        if len(self.index) - 1 - newest >= every:
            return min(seen, key=lambda i: seen[i])
        return None

    def _scores(self, first_settled: bool) -> np.ndarray:
        """Per commit: the information (bits) one more session of it is expected to give
        about where the material changes are, times how well one session tells the two
        levels apart (1 - the Bhattacharyya coefficient). Two views, the larger counts:

        - **the first culprit** (Horstein's probabilistic bisection): a session of commit k
          answers "is k already at the new level", i.e. "is the first material change at or
          before k", whose chance q is the posterior's cumulative sum up to k; the
          information is H(q). With one culprit and known levels this is the median rule.
        - **each stretch between tested commits**: a stretch holding a material change with
          probability m (its ``_mass``), at any of its w positions alike, learns m * H(k/w)
          from a session k positions into it; a tested commit learns which of its two
          stretches holds the change when exactly one does. This view finds further culprits
          once the first one's place is known."""
        f = self.fit()
        pts = f.points
        floor = self.params.model.materiality * max(f.gap, 0.0)
        mass = self._mass(f)
        score = np.zeros(self.n)
        disc = np.zeros(self.n)
        per_commit = np.zeros(self.n)
        for j in range(len(pts) - 1):
            lo, hi, m = int(pts[j]), int(pts[j + 1]), float(mass[j])
            # an improvement's stretch: its sessions find where it starts (an improvement
            # pinned hides no regression), so its own step says how well they tell
            d = _discrimination(max(abs(f.step[j]), floor), 0.5 * (f.noise[j] + f.noise[j + 1]))
            disc[lo + 1:hi] = d
            per_commit[lo + 1:hi + 1] = float(f.material[j]) / (hi - lo)
            if m <= 1e-9 or hi - lo < 2:
                continue
            k = np.arange(1, hi - lo)
            score[lo + 1:hi] = m * _h2(k / (hi - lo)) * d
        for j in range(1, len(pts) - 1):
            a, b = float(mass[j - 1]), float(mass[j])
            disc[int(pts[j])] = _discrimination(max(max(f.step[j - 1], f.step[j]), floor), f.noise[j])
            both = min(a, b, float(f.alone[j]))
            one = a + b - 2 * both
            if one <= 1e-9:
                continue
            score[int(pts[j])] = one * float(_h2((a - both) / one)) * disc[int(pts[j])]
        total = float(per_commit.sum())
        if total > 1e-9 and not first_settled:          # the first culprit's place still open
            q = np.minimum(np.cumsum(per_commit) / min(total, 1.0), 1.0)
            score = np.maximum(score, _h2(q) * disc * self._telling(f, floor))
        for i in self.skipped:
            score[i] = 0.0
        score[0] = score[self.n - 1] = 0.0
        # A change whose place is pinned (nothing left to test between its two sides) but
        # whose existence is still in doubt: more sessions of its sides, the less certain
        # side first (an end too).
        done = self._resolved(f)
        eps = self.params.eps
        for j in range(len(pts) - 1):
            m = float(mass[j])
            if done[j] and eps < m and not (f.change[j] >= 1 - eps and f.material[j] >= 0.5):
                lo, hi = int(pts[j]), int(pts[j + 1])
                d = _discrimination(max(f.step[j], floor), 0.5 * (f.noise[j] + f.noise[j + 1]))
                if f.change[j] >= 1 - eps:
                    # it is there; whether it is material is in doubt: that is its far
                    # side's level against good's, so the less certain of those two
                    side = hi if f.level_sd[j + 1] >= f.level_sd[0] else 0
                else:
                    side = lo if f.level_sd[j] / math.sqrt(self._count(lo)) >= f.level_sd[j + 1] / math.sqrt(
                        self._count(hi)) else hi
                score[side] = max(score[side], float(_h2(m)) * d)
        return score

    def _telling(self, f: Fit, floor: float) -> np.ndarray:
        """Per commit: the chance that its next session can say on which side of the first
        culprit it lies. 1 for an untested commit. A tested one cannot when it is a segment
        of its own (its level is its own either way), nor when its level is materially
        better than good (inside an improvement, it reads the same whether or not a
        regression hides before the improvement)."""
        out = np.ones(self.n)
        good, good_sd = float(f.level[0]), float(f.level_sd[0])
        for j in range(1, len(f.points) - 1):
            z = (float(f.level[j]) - good + floor) / math.hypot(float(f.level_sd[j]), good_sd, 1e-12)
            out[int(f.points[j])] = (1.0 - float(f.alone[j])) * float(ndtr(z))
        return out

    def _redundant(self, i: int, picks: list[int]) -> bool:
        """For a batch: a second commit in the same stretch between tested commits is only
        worth it away from the first (about a k-ary split)."""
        f = self.fit()
        j = int(np.searchsorted(f.points, i))
        for q in picks:
            if q in (0, self.n - 1):
                continue
            if int(np.searchsorted(f.points, q)) == j and abs(q - i) < max(1, (f.points[min(j, len(f.points) - 1)]
                                                                                - f.points[max(j - 1, 0)]) // (len(picks) + 2)):
                return True
        return False

    def _fallback(self) -> int:
        """When no commit scores: the middle of the widest stretch holding material mass,
        else an end."""
        f = self.fit()
        best, pick = 0.0, None
        for j in range(len(f.points) - 1):
            lo, hi = int(f.points[j]), int(f.points[j + 1])
            free = [i for i in range(lo + 1, hi) if i not in self.skipped]
            if free and f.material[j] > best:
                best, pick = float(f.material[j]), free[len(free) // 2]
        if pick is not None:
            return pick
        return 0 if self._count(0) <= self._count(self.n - 1) else self.n - 1

    # -- what is known -----------------------------------------------------------------
    def answer(self) -> Answer:
        status = self.status()
        last = self.n - 1
        if not (self._count(0) and self._count(last)):
            return Answer(status, self.spent, reason="the ends have no sessions yet")
        f = self.fit()
        post = np.zeros(self.n)
        for j in range(len(f.points) - 1):
            lo, hi = int(f.points[j]), int(f.points[j + 1])
            cand = [i for i in range(lo + 1, hi + 1)]
            post[lo + 1:hi + 1] = f.material[j] / len(cand)
        out = Answer(status, self.spent, posterior=[float(x) for x in post])
        if f.sut is not None:
            out.suts = {str(name): self.sign * float(f.sut[k]) for k, name in enumerate(self.sut)}
        stale = [end for end in (0, last) if self._fresh(f, end)[1] >= 3 > 0 and
                 self._fresh(f, end)[1] > self._fresh(f, end)[0]]
        if status == REFUSED and stale:
            out.reason = (f"the {'good' if stale[0] == 0 else 'bad'} end's sessions now disagree with its "
                          f"baselines ({self._fresh(f, stale[0])[1]} of this bisection far from them): the "
                          f"baselines do not describe the machine or kernel as it is; record them again")
            return out
        if status == REFUSED:
            out.reason = (f"the ends are not told apart: bad - good = {self.sign * f.gap:.4g} "
                          f"± {f.gap_sd:.2g} after {self._count(0)} + {self._count(last)} sessions")
            return out
        named, _, _ = self._named(f)
        undoing = self._undoing(f)
        changes = [self._change(f, j) for j in named if not undoing[j]]
        out.reverts = [self._change(f, j) for j in named if undoing[j]]
        if changes:
            out.culprit, out.further = changes[0], changes[1:]
        out.improvements = [self._change(f, j, f.improve[j]) for j in range(len(f.points) - 1)
                            if f.improve[j] >= 0.5]
        order = np.argsort(-post, kind="stable")
        pinned = {c.index for c in changes}
        others = [(int(i), float(post[i])) for i in order if int(i) not in pinned and post[i] > 0]
        out.runner_up = others[0] if others else None
        if status != FOUND:
            out.candidates = [(int(i), float(post[i])) for i in order[:8] if post[i] > 0]
            out.reason = (f"after {self.spent} sessions the most likely first bad commit holds "
                          f"{post[order[0]]:.3f}, not 1 - {self.params.eps:g}")
        return out

    def _change(self, f: Fit, j: int, prob: float | None = None) -> Change:
        lo, hi = int(f.points[j]), int(f.points[j + 1])
        step = self.sign * float(f.step[j])
        half = 1.96 * float(f.step_sd[j])
        skipped = [i for i in range(lo + 1, hi) if i in self.skipped]
        return Change(index=hi, probability=float(f.change[j] if prob is None else prob), step=step,
                      step_ci95=(step - half, step + half), width=hi - lo,
                      candidates=skipped + [hi] if skipped else [])


def _h2(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def _discrimination(step: float, noise: float) -> float:
    """How well one session tells two levels ``step`` apart (1 - Bhattacharyya coefficient)."""
    if noise <= 0:
        return 1.0
    return 1.0 - math.exp(-(step / noise) ** 2 / 8.0)


def run(engine: Engine, take: Callable[[list[int]], Iterable[tuple]], k: int = 1,
        on_step: Callable[[Engine, list[int]], None] | None = None) -> Answer:
    """The loop: ask the engine for up to ``k`` commits, ``take(commits)`` boots one session
    of each and returns (commit, value) pairs, or (commit, value, sut) with the SUT of a pool
    that took it; value None when the commit could not be tested (did not build or boot);
    until the engine has an answer."""
    while True:
        picks = engine.next(k)
        if not picks:
            return engine.answer()
        for i, value, *sut in take(picks):
            if value is None:
                engine.untestable(i)
            else:
                engine.add(i, value, sut=sut[0] if sut else None)
        if on_step is not None:
            on_step(engine, picks)
