"""A pool whose SUTs read at different levels: the engine with and without its SUT factor.

K SUTs take each batch's picks in turn (the first pick on the first SUT, ...); the second
and later SUTs read ``--offset`` session sds higher (worse) than the first; the baselines
are the first SUT's. "factor" labels every session with its SUT (what `bisect auto --suts K`
does), so the model gives each SUT an offset; "none" hands the engine unlabelled sessions,
one machine's noise. Each row runs the engine's own loop (fastpath.bisect.engine.run).

    python bench/sut_offsets.py --runs 40 --offsets 0 1.5
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import machines  # noqa: E402

from fastpath.bisect.engine import FOUND, Engine, EngineParams, run  # noqa: E402


def bisection(m, n: int, k: int, offset: float, factor: bool, baselines: int = 5) -> tuple[str, int]:
    worse = -1.0 if m.higher else 1.0
    e = Engine(n + 1, m.improvement, EngineParams())
    first = "sut0" if factor else None
    for _ in range(baselines):
        e.add(0, m.session(0), baseline=True, sut=first)
        e.add(n, m.session(n), baseline=True, sut=first)

    def take(picks):
        out = []
        for place, i in enumerate(picks):
            sut = place % k
            value = m.session(i) + (offset * worse if sut else 0.0)
            out.append((i, value, f"sut{sut}" if factor else None))
        return out

    a = run(e, take, k=k)
    if a.status != FOUND:
        return a.status, a.sessions
    return ("right" if a.culprit.index in m.culprits else "wrong"), a.sessions


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--effect", type=float, default=2.0)
    ap.add_argument("--suts", type=int, default=2)
    ap.add_argument("--offsets", type=float, nargs="+", default=[0.0, 1.5])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print("| second SUT reads (sds) | SUTs in the model | right | wrong | inconclusive | sessions |")
    print("| --- | --- | --- | --- | --- | --- |")
    for offset in args.offsets:
        for factor in (False, True):
            rng = np.random.default_rng(args.seed)
            counts, sessions = collections.Counter(), []
            for _ in range(args.runs):
                outcome, spent = bisection(machines.normal(args.n, args.effect, rng), args.n, args.suts,
                                           offset, factor)
                counts[outcome] += 1
                sessions.append(spent)
            print(f"| {offset:+g} | {'yes' if factor else 'no'} | {counts['right']} | {counts['wrong']} | "
                  f"{counts['inconclusive'] + counts['refused']} | {np.mean(sessions):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
