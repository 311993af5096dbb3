"""Wall time of a bisection on k SUTs, simulated through the engine code that ships.

The sessions come from a machine model (bench/machines.py); the engine is
fastpath.bisect.engine, driven by ``engine.run(engine, take, k)``, the loop `fastpath bisect
auto --suts K` runs. Only the clock is simulated, with these costs (all parameters):

  build      --build-full minutes for the first kernel of a bisection, --build-incr for
             each later one (ccache); one build host, one build at a time
  session    --boot + --bench minutes on one SUT

A round (one ``engine.next(k)`` batch) costs what `bisect auto --suts K` does today: the
picks not built yet are built one after the other, then the k sessions run at once:
round = builds + session. Build-ahead (`bisect auto --ahead 1`): while a round's sessions
run, the build host builds the commits fastpath.bisect.lookahead.likely_next names (the
function `bisect auto --ahead` calls: ``next(k)`` after each way the round can come out),
most likely first, as many as fit in the session's time, on --ahead SLOTS build slots (one
by default; several slots are several builds at once, each at its own cost: a build host
with the cores for them), and the picks not built yet are built on those slots too; a build
still running when the session ends goes on into the next round if that round asks for it
(only its remaining minutes count), else it is stopped. A pick built ahead costs the round
nothing. "ready when asked" (the hit rate): of the commits the rounds asked for that needed a
kernel (not the baselines'), those built ahead; likely_next gets the commits built already
(``ready``) and its default ``spread`` (lookahead.SPREAD; ``--spread 0``: the fitted levels
only, the look-ahead before 2026-12-02).

Against it: `git bisect run` on one SUT, the per-commit sprt flow of `bisect auto --engine
git` (bisect_sim.git_bisection: advice followed, confirmation, retries): its sessions one
after another, each tested commit built once, before its sessions.

Engine CPU: the process CPU time of engine.next/add/untestable/answer (the look-ahead
calls included, and likely_next's copies of the engine) per bisection, against its
simulated wall time. Baselines (recorded before
the bisection, by `bisect start`) are in neither flow's wall time.

    python bench/wall_sim.py --runs 40 --ks 1 2 4 8 [--ahead 2]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from bisect_sim import git_bisection, load_factory  # noqa: E402

from fastpath.bisect.params import params_for  # noqa: E402
from fastpath.bisect.engine import FOUND, Engine, EngineParams, run  # noqa: E402
from fastpath.bisect.lookahead import SPREAD, likely_next  # noqa: E402


class TimedEngine(Engine):
    """The engine, with the CPU time of its calls summed in ``cpu``."""

    cpu = 0.0

    def _timed(name):
        def call(self, *args, **kwargs):
            t = time.process_time()
            try:
                return getattr(Engine, name)(self, *args, **kwargs)
            finally:
                self.cpu += time.process_time() - t
        return call

    next = _timed("next")
    add = _timed("add")
    untestable = _timed("untestable")
    answer = _timed("answer")
    del _timed


class Clock:
    """The build host and the wall clock of one bisection (minutes)."""

    def __init__(self, costs: dict):
        self.c, self.wall, self.built, self.builds = costs, 0.0, set(), 0
        self.running: dict[int, float] = {}              # builds ahead not finished: commit -> minutes left
        self.stopped = 0
        self.wait = 0.0                                  # minutes rounds waited for builds

    def build_cost(self) -> float:
        return self.c["build_full"] if self.builds == 0 else self.c["build_incr"]

    def build(self, sha) -> float:
        cost = self.build_cost()
        if sha in self.running:                          # begun ahead: what is left of it
            cost = self.running.pop(sha)
        self.built.add(sha)
        self.builds += 1
        return cost


def makespan(costs: list[float], slots: int) -> float:
    """Minutes until ``slots`` build slots have done these builds (the longest first, each
    to the slot free first)."""
    load = [0.0] * max(slots, 1)
    for c in sorted(costs, reverse=True):
        load[load.index(min(load))] += c
    return max(load)


def engine_wall(m, n: int, k: int, baselines: int, params: EngineParams, costs: dict, ahead: int,
                spread: tuple[float, ...] = SPREAD) -> dict:
    """One bisection's simulated clock; ``ahead``: build slots of `bisect auto --ahead`
    (0: today's flow, each pick built in the tree before its session, one at a time);
    ``spread``: likely_next's."""
    e = TimedEngine(n + 1, m.improvement, params)
    for _ in range(baselines):
        e.add(0, m.session(0), baseline=True)
        e.add(n, m.session(n), baseline=True)
    clock = Clock(costs)
    clock.built |= {0, n}                        # the baselines' kernels
    session = costs["boot"] + costs["bench"]
    ahead_of: set = set()                        # built ahead
    used: set = set()                            # built ahead and then asked for
    needed: set = set()                          # picks that needed a kernel (not the baselines')

    def take(picks):
        needed.update(i for i in picks if i not in (0, n))
        builds = makespan([clock.build(i) for i in picks if i not in clock.built], int(ahead))
        clock.stopped += len(clock.running)      # begun ahead, not asked for: stopped
        clock.running = {}
        used.update(i for i in picks if i in ahead_of)
        clock.wall += builds + session
        clock.wait += builds
        if ahead:                                # the build host works while the sessions run
            t, cpu = time.process_time(), e.cpu
            wanted = likely_next(e, picks, k, spread=spread, ready=clock.built)
            e.cpu = cpu + time.process_time() - t
            budget = [session] * int(ahead)      # each slot's minutes while the sessions run
            busy: set = set()                    # slots whose build goes on into the next round
            for i in wanted:
                if i in clock.built:
                    continue
                free = [j for j in range(len(budget)) if j not in busy]
                if not free:
                    break
                slot = max(free, key=lambda j: budget[j])
                cost = clock.build_cost()
                if cost > budget[slot]:          # begun (as the queue does), not done: it goes on
                    clock.running[i] = cost - budget[slot]     # into the next round if asked for
                    busy.add(slot)
                    continue
                budget[slot] -= clock.build(i)
                ahead_of.add(i)
        return [(i, m.session(i)) for i in picks]

    a = run(e, take, k=k)
    named = [c.index for c in a.culprits]
    outcome = ("correct" if named[0] in m.culprits else "wrong") if a.status == FOUND else a.status
    return {"outcome": outcome, "sessions": a.sessions, "wall": clock.wall, "builds": clock.builds,
            "needed": len(needed), "hidden": len(used), "wasted": len(ahead_of) - len(used), "stopped": clock.stopped, "wait": clock.wait,
            "cpu": e.cpu}


class Recorder:
    """A machine whose sessions of commits 1..n-1 are remembered (the commits git builds)."""

    def __init__(self, m, n):
        self.m, self.n, self.tested = m, n, set()
        self.improvement, self.culprits, self.higher = m.improvement, m.culprits, m.higher

    def session(self, i):
        if 0 < i < self.n:
            self.tested.add(i)
        return self.m.session(i)


def git_wall(m, n: int, baselines: int, costs: dict) -> dict:
    rec = Recorder(m, n)
    r = git_bisection("sprt", rec, n, baselines, params_for("sprt", None), 100, True, 2)
    builds = len(rec.tested)
    build_minutes = (costs["build_full"] + (builds - 1) * costs["build_incr"]) if builds else 0.0
    return {"outcome": r["outcome"], "sessions": r["sessions"], "builds": builds, "needed": builds, "hidden": 0, "wasted": 0, "stopped": 0,
            "wait": build_minutes,
            "wall": r["sessions"] * (costs["boot"] + costs["bench"]) + build_minutes, "cpu": 0.0}


def row(name: str, k: int, rs: list[dict]) -> dict:
    ok = [r for r in rs if r["outcome"] not in ("refused",)]
    wall = np.array([r["wall"] for r in ok])
    return {"flow": name, "k": k, "runs": len(rs),
            "correct": 100.0 * sum(r["outcome"] == "correct" for r in rs) / len(rs),
            "wrong": 100.0 * sum(r["outcome"] == "wrong" for r in rs) / len(rs),
            "other": 100.0 * sum(r["outcome"] not in ("correct", "wrong") for r in rs) / len(rs),
            "sessions": float(np.mean([r["sessions"] for r in ok])),
            "wall_h": float(wall.mean()) / 60, "wall_p90_h": float(np.percentile(wall, 90)) / 60,
            "builds": float(np.mean([r["builds"] for r in ok])),
            "hidden": float(np.mean([r["hidden"] for r in ok])),
            "wasted": float(np.mean([r["wasted"] for r in ok])),
            "stopped": float(np.mean([r["stopped"] for r in ok])),
            "hit": 100.0 * sum(r["hidden"] for r in ok) / max(sum(r["needed"] for r in ok), 1),
            "wait_h": float(np.mean([r["wait"] for r in ok])) / 60,
            "cpu_share": 100.0 * sum(r["cpu"] for r in ok) / (60.0 * float(wall.sum())),
            "cpu_s": float(np.mean([r["cpu"] for r in ok]))}


def table(rows: list[dict]) -> str:
    base = rows[0]["wall_h"]
    out = ["| flow | SUTs | correct | wrong | other | sessions | builds (ahead: used / wasted / stopped) "
           "| ready when asked | waiting for builds h | wall h (p90) | vs git | engine CPU s (share of wall) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['flow']} | {r['k']} | {r['correct']:.0f}% | {r['wrong']:.0f}% | {r['other']:.0f}% | "
                   f"{r['sessions']:.1f} | {r['builds']:.1f} ({r['hidden']:.1f} / {r['wasted']:.1f} / "
                   f"{r['stopped']:.1f}) | {r['hit']:.0f}% | {r['wait_h']:.2f} | {r['wall_h']:.2f} ({r['wall_p90_h']:.2f}) | {r['wall_h'] / base:.2f}x | "
                   f"{r['cpu_s']:.1f} ({r['cpu_share']:.3f}%) |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="bisections per row (the same histories in every row)")
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 2, 4, 8])
    ap.add_argument("--machine", default="normal")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--effect", type=float, default=2.0)
    ap.add_argument("--baseline-sessions", type=int, default=5)
    ap.add_argument("--build-full", type=float, default=5.0, help="minutes")
    ap.add_argument("--build-incr", type=float, default=1.0, help="minutes, with ccache")
    ap.add_argument("--boot", type=float, default=2.0, help="minutes")
    ap.add_argument("--bench", type=float, default=1.0, help="minutes")
    ap.add_argument("--no-ahead", action="store_true", help="only the rows without build-ahead")
    ap.add_argument("--ahead", type=int, default=1, metavar="SLOTS",
                    help="build slots of the build-ahead rows (builds at once, each at its own cost)")
    ap.add_argument("--spread", type=float, nargs="+", default=list(SPREAD), metavar="SDS",
                    help="likely_next's spread: each outcome's sessions tried these sds off its levels "
                         "(default lookahead.SPREAD; 0 alone: the fitted levels only, the look-ahead before 2026-12-02)")
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    costs = {"build_full": args.build_full, "build_incr": args.build_incr, "boot": args.boot, "bench": args.bench}
    factory = load_factory(args.machine)
    params = EngineParams()

    def machines():                              # the same histories and noise for every row
        for j in range(args.runs):
            yield factory(args.n, args.effect, np.random.default_rng([args.seed, j]))

    started = time.monotonic()
    rows = [row("git bisect run (sprt)", 1, [git_wall(m, args.n, args.baseline_sessions, costs) for m in machines()])]
    for ahead in (0,) if args.no_ahead else (0, args.ahead):
        for k in args.ks:
            rs = [engine_wall(m, args.n, k, args.baseline_sessions, params, costs, ahead, tuple(args.spread))
                  for m in machines()]
            rows.append(row("engine" + (f" + build ahead ({ahead} slot{'s' if ahead > 1 else ''})" if ahead else ""),
                            k, rs))
            print(f"  {rows[-1]['flow']} k={k}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(table(rows))
    print(f"\n{args.machine}, N={args.n}, effect {args.effect:g} sd, {args.runs} bisections per row, baselines "
          f"{args.baseline_sessions} sessions each; build {args.build_full:g} min (first) / {args.build_incr:g} min "
          f"(ccache), boot {args.boot:g} min, benchmark {args.bench:g} min; {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
