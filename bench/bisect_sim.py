"""Decision quality of bisections, measured by simulation through the code that ships.

Each simulated bisection: a machine model (bench/machines.py, or any ``MODULE:FACTORY``
given with --machine) makes a history of N commits after a good one with known culprits and
gives one session's value of a commit each time it is asked. Baselines (good and bad) are
recorded first, --baseline-sessions each; they are not counted in "sessions", everything
after them is (end sessions the engine adds, advice followed, retries, confirmations).

Policies:
  engine       fastpath.bisect.engine: one posterior over the whole range, engine.run() (the
               loop `fastpath bisect auto` runs); its answer is scored as it stands.
  sprt         today's per-commit flow: git bisect's algorithm (fastpath.bisect.driver.bisect)
               with the sprt judge and classify() of `bisect run`, `bisect start`'s checks
               with its advice followed (up to --follow-advice sessions), `bisect confirm` of
               the named culprit and, after an inconclusive end, fresh baselines and a new
               bisection (at most --retries), as `bisect auto --engine git` does.
  fastpath-ci  the seed's rule through the same driver (no confirmation).
  known        the reference limit: probabilistic bisection (Horstein; Waeber, Frazier and
               Henderson 2013) with the levels and noise KNOWN, normal likelihood, median
               rule, stop at 1 - 0.001. Not a product; the row every engine is held against.

Outcomes: correct (the named culprit is a true one), wrong, inconclusive (an honest end:
engine inconclusive, only skipped, or a culprit not confirmed), refused (at start). "both"
is the share of bisections that named every true culprit (two-culprit machines).

    python bench/bisect_sim.py                                   # the docs' tables
    python bench/bisect_sim.py --runs 100 --machines normal --sizes 100 --policies engine known
    python bench/bisect_sim.py --machine mymodels:flaky_lab --json
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import math
import multiprocessing
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import machines as builtin  # noqa: E402

from fastpath.bisect import driver, judges  # noqa: E402
from fastpath.bisect import params as policies  # noqa: E402
from fastpath.bisect.baselines import difference_problem  # noqa: E402
from fastpath.bisect.engine import FOUND, REFUSED, Engine, EngineParams, run  # noqa: E402
from fastpath.errors import UserError  # noqa: E402

POLICIES = ("engine", "sprt", "fastpath-ci", "known")


def load_factory(name: str):
    """A built-in machine's factory by name, or MODULE:FACTORY from any importable module."""
    if ":" not in name:
        if name not in builtin.MACHINES:
            raise SystemExit(f"--machines {name}: unknown (built in: {', '.join(builtin.MACHINES)}; "
                             f"or MODULE:FACTORY)")
        return builtin.MACHINES[name]
    module, attr = name.split(":", 1)
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise SystemExit(f"--machine {name}: {err}") from None


# -- the engine ----------------------------------------------------------------------------
def engine_bisection(m, n: int, k: int, params: EngineParams) -> dict:
    e = Engine(n + 1, m.improvement, params)
    for _ in range(k):
        e.add(0, m.session(0), baseline=True)
        e.add(n, m.session(n), baseline=True)
    a = run(e, lambda picks: [(i, m.session(i)) for i in picks])
    named = [c.index for c in a.culprits]
    if a.status == REFUSED:
        outcome = "refused"
    elif a.status != FOUND:
        outcome = "inconclusive"
    else:
        outcome = "correct" if named[0] in m.culprits else "wrong"
    return {"outcome": outcome, "sessions": a.sessions,
            "both": a.status == FOUND and set(m.culprits) <= set(named)}


# -- the reference: known levels -----------------------------------------------------------
def known_bisection(m, n: int, effect: float, eps: float = 0.001) -> dict:
    """Probabilistic bisection with the good and bad levels and the noise known (normal)."""
    logp = np.full(n + 1, -math.log(n))
    logp[0] = -np.inf                                 # the culprit is one of 1..n
    sign = -1.0 if m.higher else 1.0
    base = builtin.BASE
    sessions = 0
    while True:
        p = np.exp(logp - logp.max())
        p /= p.sum()
        if p.max() >= 1 - eps:
            break
        cdf = np.cumsum(p)
        # commit i is bad iff culprit <= i: boot the one whose answer is nearest a coin toss
        i = 1 + int(np.argmin(np.abs(cdf[1:n] - 0.5))) if n > 1 else 1
        y = sign * (m.session(i) - base)
        sessions += 1
        ll_bad, ll_good = -0.5 * (y - effect) ** 2, -0.5 * y ** 2
        pos = np.arange(n + 1)
        logp += np.where(pos <= i, ll_bad, ll_good)
    named = int(np.argmax(p))
    return {"outcome": "correct" if named == m.culprits[0] else "wrong", "sessions": sessions,
            "both": len(m.culprits) == 1 and named == m.culprits[0]}


# -- today's per-commit flows --------------------------------------------------------------
def git_bisection(policy_name: str, m, n: int, k: int, params=None, follow: int = 0, confirm: bool = False,
                  retries: int = 2, confirm_candidates: bool = True) -> dict:
    """git bisect's algorithm with a per-commit verdict policy, as `bisect run` does; for sprt
    `bisect start`'s advice, `bisect confirm` and retries with fresh baselines."""
    spent = [0]

    def take(i: int) -> float:
        spent[0] += 1
        return m.session(i)

    def attempt(first: bool) -> tuple[str, object]:
        fresh = take if not first else m.session
        good = [fresh(0) for _ in range(k)]
        bad = [fresh(n) for _ in range(k)]
        if difference_problem(good, bad, m.improvement):
            return "refused", None
        judge = judges.prepare(policy_name, good, bad, m.improvement, params)
        for _ in range(3):
            if not judge.problem():
                break
            want = (judge.baseline_sessions_needed(follow)
                    if follow and hasattr(judge, "baseline_sessions_needed") else None)
            if want is None or want <= len(good):
                return "refused", None
            good += [take(0) for _ in range(want - len(good))]
            bad += [take(n) for _ in range(want - len(bad))]
            if difference_problem(good, bad, m.improvement):
                return "refused", None
            judge = judges.prepare(policy_name, good, bad, m.improvement, params)
        else:
            if judge.problem():
                return "refused", None
        history: list = []

        def test(i: int) -> str:
            values: list[float] = []

            def take_recorded() -> float:
                values.append(take(i))
                return values[-1]

            outcome = driver.classify(judge.track(history), [], take_recorded).outcome
            history.append((outcome, values))
            return outcome

        result = driver.bisect(range(n + 1), test)
        if not confirm:
            return ("inconclusive", None) if result.first_bad is None else ("named", result.first_bad)
        checker = judges.prepare_confirm(good, bad, m.improvement, params)
        if result.first_bad is None and not confirm_candidates:
            return "inconclusive", None
        named, _ = driver.confirm_candidates(checker, result.candidates, lambda c: c - 1, take)
        return ("inconclusive", None) if named is None else ("named", named)

    outcome, named = attempt(True)
    for _ in range(retries if confirm else 0):
        if outcome != "inconclusive":
            break
        again, culprit = attempt(False)
        if again != "refused":
            outcome, named = again, culprit
    if outcome == "named":
        outcome = "correct" if named in m.culprits else "wrong"
    return {"outcome": outcome, "sessions": spent[0], "both": outcome == "correct" and len(m.culprits) == 1}


# -- cells ---------------------------------------------------------------------------------
def run_cell(cell: dict) -> dict:
    factory = load_factory(cell["machine"])
    rng = np.random.default_rng(cell["seed"])
    n, effect, k = cell["n"], cell["effect"], cell["baselines"]
    pol = cell["policy"]
    eparams = EngineParams().with_values(**cell.get("engine", {}))
    pparams = policies.params_for(pol, cell.get("params", {}).get(pol)) if pol in policies.POLICIES else None
    counts = {"correct": 0, "wrong": 0, "inconclusive": 0, "refused": 0}
    sessions, both, multi = [], 0, 0
    started = time.monotonic()
    for _ in range(cell["runs"]):
        m = factory(n, effect, rng)
        if pol == "engine":
            r = engine_bisection(m, n, k, eparams)
        elif pol == "known":
            r = known_bisection(m, n, effect)
        else:
            r = git_bisection(pol, m, n, k, pparams, cell.get("follow", 100), pol == "sprt", cell.get("retries", 2),
                              cell.get("confirm_candidates", True))
        counts[r["outcome"]] += 1
        if r["outcome"] != "refused":
            sessions.append(r["sessions"])
        multi += len(m.culprits) > 1
        both += bool(r["both"]) and len(m.culprits) > 1
    runs = cell["runs"]
    out = {k2: cell[k2] for k2 in ("policy", "machine", "n", "effect", "runs", "baselines")}
    out.update({key: 100.0 * v / runs for key, v in counts.items()})
    out["sessions"] = float(np.mean(sessions)) if sessions else float("nan")
    out["both"] = 100.0 * both / multi if multi else None
    out["seconds"] = time.monotonic() - started
    return out


def table(rows: list[dict]) -> str:
    lines = ["| policy | machine | N | effect | correct | wrong | inconclusive | refused | both culprits "
             "| sessions/bisection |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        both = "" if r["both"] is None else f"{r['both']:.1f}%"
        lines.append(f"| {r['policy']} | {r['machine']} | {r['n']} | {r['effect']:g} | {r['correct']:.1f}% | "
                     f"{r['wrong']:.1f}% | {r['inconclusive']:.1f}% | {r['refused']:.1f}% | {both} | "
                     f"{r['sessions']:.1f} |")
    return "\n".join(lines)


def _engine_overrides(items: list[str]) -> dict:
    from fastpath.bisect.engine import parse_params

    try:
        return parse_params(items)
    except UserError as err:
        raise SystemExit(f"--engine-param: {err}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="bisections per cell")
    ap.add_argument("--policies", nargs="+", default=["engine", "known"], choices=POLICIES)
    ap.add_argument("--machines", nargs="+", default=list(builtin.MACHINES),
                    help="built-in machine names or MODULE:FACTORY")
    ap.add_argument("--machine", action="append", default=[], metavar="MODULE:FACTORY",
                    help="a machine model from any importable module (adds to --machines)")
    ap.add_argument("--sizes", nargs="+", type=int, default=[100, 1000])
    ap.add_argument("--effects", nargs="+", type=float, default=[0.5, 1, 2, 4])
    ap.add_argument("--baseline-sessions", type=int, default=5)
    ap.add_argument("--follow-advice", type=int, default=100, metavar="K",
                    help="sprt: when start refuses and says K baseline sessions each would do, record them "
                         "if K <= this (0: never)")
    ap.add_argument("--retries", type=int, default=2, help="sprt: fresh baselines after an inconclusive end")
    ap.add_argument("--engine-param", action="append", default=[], metavar="KEY=VALUE",
                    help="an engine parameter, e.g. eps=0.01 (docs/bisection.md lists them)")
    ap.add_argument("--param", action="append", default=[], metavar="POLICY.KEY=VALUE",
                    help="a per-commit policy parameter, e.g. sprt.alpha=0.01")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", action="store_true", help="one JSON object per cell, one per line")
    args = ap.parse_args(argv)
    overrides: dict = {}
    for item in args.param:
        name, setting = item.split(".", 1) if "." in item.split("=", 1)[0] else ("", item)
        try:
            overrides.setdefault(name, {}).update(policies.parse_overrides(name, [setting]))
        except UserError as err:
            ap.error(f"--param {item}: {err}")
    machines = list(args.machines) + list(args.machine)
    for name in machines:
        load_factory(name)
    engine = _engine_overrides(args.engine_param)
    cells = [{"policy": p, "machine": mach, "n": n, "effect": e, "runs": args.runs, "baselines": args.baseline_sessions,
              "seed": args.seed + i, "params": overrides, "engine": engine, "follow": args.follow_advice,
              "retries": args.retries}
             for i, (mach, n, e, p) in enumerate(itertools.product(machines, args.sizes, args.effects,
                                                                   args.policies))]
    started = time.monotonic()
    rows = []
    with multiprocessing.Pool(args.jobs) as pool:
        for row in pool.imap(run_cell, cells, chunksize=1):   # in order; each one shown as it ends
            rows.append(row)
            print(f"[{len(rows)}/{len(cells)}] {json.dumps(row)}", file=sys.stderr, flush=True)
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        print(table(rows))
    print(f"\n{len(cells)} cells x {args.runs} bisections, baselines {args.baseline_sessions} sessions each, "
          f"{time.monotonic() - started:.0f} s on {args.jobs} processes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
