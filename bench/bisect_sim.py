"""Decision quality of the bisection verdict policies, measured by simulation.

Each simulated bisection: a linear history of N commits after a good one, the culprit at a
uniformly random position, every commit from it on `effect` session-standard-deviations worse.
Baselines (good and bad) are recorded first with --baseline-sessions sessions each; the same
checks as `fastpath bisect start` run on them (significant difference in the regression
direction, the policy's own problem()), and a refused start is counted as such. Then the
pure driver (fastpath.bisect.driver.bisect, git bisect's algorithm) runs with the SAME judge
and classify() code that `fastpath bisect run` uses; each session value is drawn fresh from
the noise model; each step's judge is judge.track(history) over the earlier steps' outcomes
and sessions, as `bisect run` builds it from the context's `tested` list and the output store
(--param sprt.track_levels=no to leave it out). The result class direction (higher or lower
is better) is random per bisection. When sprt refuses the baselines and says how many sessions each would do, the
simulated user records them (if at most --follow-advice, default 100; counted in the
sessions). For sprt the named culprit is then re-tested against its parent in interleaved
sessions, as `fastpath bisect confirm` does (driver.confirm; --confirm no to leave it out);
when git left only skipped commits, each candidate in turn until one is confirmed
(driver.confirm_candidates; --confirm-candidates no). After an inconclusive end the user
records fresh baselines and bisects the whole range again, at most --retries (2) times, as
`fastpath bisect auto` does; a culprit still not confirmed counts as "unconfirmed", an honest
inconclusive end.

Noise models (all standardised to mean 0, sd 1, so effects are in session sds):
  normal    N(0, 1)
  lognormal exp(0.5 Z): right-skewed
  bimodal   a boot lands in one of two layouts: 70% N(0, 0.3), 30% N(2, 0.3)
  outliers  95% N(0, 1); 5% of boots are slowed by U(4, 12) (one-sided, in the worse direction)
  drift     N(0, 1) plus a drift of 0.01 sd per session measured since the baselines (sign
            random per bisection): 1 sd after 100 sessions

    python bench/bisect_sim.py                       # full table (>= 500 bisections per cell)
    python bench/bisect_sim.py --runs 100 --models normal --sizes 100
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import sys
import time

import numpy as np

from fastpath.bisect import driver, policy
from fastpath.bisect.baselines import difference_problem
from fastpath.bisect.verdict import BAD, GOOD
from fastpath.errors import UserError

MODELS = ("normal", "lognormal", "bimodal", "outliers", "drift")
DRIFT_PER_SESSION = 0.01


def _raw(model: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if model in ("normal", "drift"):
        return rng.standard_normal(n)
    if model == "lognormal":
        return np.exp(0.5 * rng.standard_normal(n))
    if model == "bimodal":
        return np.where(rng.random(n) < 0.3, 2.0, 0.0) + 0.3 * rng.standard_normal(n)
    if model == "outliers":
        slow = np.where(rng.random(n) < 0.05, rng.uniform(4, 12, n), 0.0)
        return rng.standard_normal(n) + slow
    raise ValueError(model)


_STD: dict[str, tuple[float, float]] = {}


def standardiser(model: str) -> tuple[float, float]:
    if model not in _STD:
        x = _raw(model, np.random.default_rng(12345), 2_000_000)
        _STD[model] = (float(x.mean()), float(x.std()))
    return _STD[model]


class Noise:
    """Standardised noise of one model, drawn in blocks (a scalar draw per session is slow)."""

    def __init__(self, model: str, rng: np.random.Generator):
        self.model, self.rng = model, rng
        self.mean, self.sd = standardiser(model)
        self.buf, self.pos = np.empty(0), 0

    def draw(self) -> float:
        if self.pos >= len(self.buf):
            self.buf, self.pos = (_raw(self.model, self.rng, 512) - self.mean) / self.sd, 0
        self.pos += 1
        return float(self.buf[self.pos - 1])


def one_bisection(policy_name: str, model: str, n: int, effect: float, k: int,
                  rng: np.random.Generator, params=None, follow: int = 0,
                  confirm: bool = False, confirm_skipped: bool = True, retries: int = 2) -> tuple[str, int, int]:
    """Run one simulated bisection; return (outcome, sessions spent in all, of which extra
    baseline sessions: recorded on the policy's advice, or fresh ones for a retry)."""
    noise = Noise(model, rng)
    higher = rng.random() < 0.5
    improvement = policy.HIGHER if higher else policy.LOWER
    worse = -1.0 if higher else 1.0             # sign of "worse" on the value axis
    base = 1000.0
    drift = DRIFT_PER_SESSION * (1 if rng.random() < 0.5 else -1) if model == "drift" else 0.0
    # In the outlier model the slow boots are slower: worse, whatever the direction.
    clock = [0]

    def value(bad: bool) -> float:
        e = noise.draw()
        v = base + worse * (e + (effect if bad else 0.0) + drift * clock[0])
        return v

    culprit = [0]               # drawn once the first start succeeds (the same seeds as before)
    spent = {"extra": 0}        # baseline sessions beyond the first k of each

    def attempt(first: bool) -> str:
        """Baselines, `bisect start`'s checks (its advice followed), the bisection, `bisect
        confirm`: one outcome."""
        good = [value(False) for _ in range(k)]
        bad = [value(True) for _ in range(k)]
        if not first:
            spent["extra"] += 2 * k
        if difference_problem(good, bad, improvement):
            return "refused"
        judge = policy.prepare(policy_name, good, bad, improvement, params)
        for _ in range(3):
            if not judge.problem():
                break
            # The user follows `bisect start`'s advice ("record about K sessions of each
            # baseline") when K is at most `follow`, and starts again with all the sessions.
            want = (judge.baseline_sessions_needed(follow)
                    if follow and hasattr(judge, "baseline_sessions_needed") else None)
            if want is None or want <= len(good):
                return "refused"
            spent["extra"] += 2 * (want - len(good))
            good += [value(False) for _ in range(want - len(good))]
            bad += [value(True) for _ in range(want - len(bad))]
            if difference_problem(good, bad, improvement):
                return "refused"
            judge = policy.prepare(policy_name, good, bad, improvement, params)
        else:
            if judge.problem():
                return "refused"
        if first:
            culprit[0] = int(rng.integers(1, n + 1))

        def take_for(i: int):
            def take() -> float:
                clock[0] += 1
                return value(i >= culprit[0])
            return take

        history: list = []          # [(outcome, session values)]: what `bisect run` reads back

        def test(i: int) -> str:
            values: list[float] = []
            take = take_for(i)

            def take_recorded() -> float:
                values.append(take())
                return values[-1]

            outcome = driver.classify(judge.track(history), [], take_recorded).outcome
            history.append((outcome, values))
            return outcome

        result = driver.bisect(range(n + 1), test)
        if not confirm:
            if result.first_bad is None:
                return "skipped"
            return "correct" if result.first_bad == culprit[0] else "wrong"
        # `bisect confirm` the named culprit against its parent; when git left only skipped
        # commits, each candidate in turn (confirm_skipped) until one is confirmed.
        checker = policy.prepare_confirm(good, bad, improvement, params)
        candidates = result.candidates if (result.first_bad is not None or confirm_skipped) else []
        named, _ = driver.confirm_candidates(checker, candidates, lambda c: c - 1, lambda c: take_for(c)())
        if named is None:
            return "skipped" if result.first_bad is None else "unconfirmed"
        return "correct" if named == culprit[0] else "wrong"

    outcome = attempt(True)
    for _ in range(retries if confirm else 0):
        if outcome not in ("unconfirmed", "skipped"):
            break
        # Inconclusive: the user records fresh baselines (k sessions each, the machine as it is
        # now) and bisects the whole range again (`bisect start` with them, git bisect, confirm).
        again = attempt(False)
        if again != "refused":
            outcome = again
    if outcome == "refused" and not clock[0]:
        return "refused", spent["extra"], spent["extra"]
    return outcome, clock[0] + spent["extra"], spent["extra"]


def run_cell(args) -> dict:
    policy_name, model, n, effect, k, runs, seed, overrides, follow, confirm, confirm_skipped, retries = args
    rng = np.random.default_rng(seed)
    params = policy.params_for(policy_name, overrides.get(policy_name))
    counts = {"correct": 0, "wrong": 0, "skipped": 0, "unconfirmed": 0, "refused": 0}
    sessions, extras = [], []
    for _ in range(runs):
        outcome, spent, extra = one_bisection(policy_name, model, n, effect, k, rng, params, follow, confirm,
                                              confirm_skipped, retries)
        counts[outcome] += 1
        if outcome != "refused":
            sessions.append(spent)
            extras.append(extra)
    return {"policy": policy_name + ("+confirm" if confirm else ""), "model": model, "n": n,
            "effect": effect, "runs": runs, **counts,
            "sessions": float(np.mean(sessions)) if sessions else float("nan"),
            "extra": float(np.mean(extras)) if extras else float("nan")}


def table(rows: list[dict]) -> str:
    head = ("| policy | noise | N | effect | correct | wrong | only skipped | unconfirmed | refused at start "
            "| sessions/bisection | of which extra baseline |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        pct = {key: 100.0 * r[key] / r["runs"] for key in ("correct", "wrong", "skipped", "unconfirmed", "refused")}
        lines.append(f"| {r['policy']} | {r['model']} | {r['n']} | {r['effect']:g} | "
                     f"{pct['correct']:.1f}% | {pct['wrong']:.1f}% | {pct['skipped']:.1f}% | "
                     f"{pct['unconfirmed']:.1f}% | {pct['refused']:.1f}% | {r['sessions']:.1f} | "
                     f"{r['extra']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500, help="bisections per cell")
    ap.add_argument("--policies", nargs="+", default=list(policy.POLICIES))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--sizes", nargs="+", type=int, default=[100, 1000])
    ap.add_argument("--effects", nargs="+", type=float, default=[0.5, 1, 2, 4])
    ap.add_argument("--baseline-sessions", type=int, default=20)
    ap.add_argument("--follow-advice", type=int, default=100, metavar="K",
                    help="when start refuses and says K baseline sessions each would do, record them if "
                         "K <= this (0: never; the refusal stands)")
    ap.add_argument("--confirm", choices=("yes", "no"), default="yes",
                    help="sprt: confirm the named culprit against its parent (`bisect confirm`)")
    ap.add_argument("--confirm-candidates", choices=("yes", "no"), default="yes",
                    help="sprt with --confirm yes: when git ends with only skipped commits left, "
                         "`bisect confirm` each candidate in turn until one is confirmed")
    ap.add_argument("--retries", type=int, default=2,
                    help="sprt with --confirm yes: after an inconclusive end (unconfirmed, or only skipped "
                         "and no candidate confirmed) record fresh baselines and bisect again, this many times "
                         "(`fastpath bisect auto --retries`)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--param", action="append", default=[], metavar="POLICY.KEY=VALUE",
                    help="override a policy parameter, e.g. sprt.alpha=0.01 (for tuning)")
    args = ap.parse_args(argv)
    overrides: dict = {}
    for item in args.param:
        name, setting = item.split(".", 1) if "." in item.split("=", 1)[0] else ("", item)
        try:
            overrides.setdefault(name, {}).update(policy.parse_overrides(name, [setting]))
        except UserError as err:
            ap.error(f"--param {item}: {err}")
    cells = [(p, m, n, e, args.baseline_sessions, args.runs, args.seed + i, overrides, args.follow_advice,
              args.confirm == "yes" and p == "sprt", args.confirm_candidates == "yes", args.retries)
             for i, (p, m, n, e) in enumerate(itertools.product(args.policies, args.models, args.sizes,
                                                                  args.effects))]
    started = time.monotonic()
    for m in args.models:
        standardiser(m)
    with multiprocessing.Pool(args.jobs) as pool:
        rows = pool.map(run_cell, cells, chunksize=1)
    print(table(rows))
    print(f"\n{len(cells)} cells x {args.runs} bisections, baselines {args.baseline_sessions} sessions each "
          f"(more on advice up to {args.follow_advice}), confirm {args.confirm}, "
          f"{time.monotonic() - started:.0f} s on {args.jobs} processes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
