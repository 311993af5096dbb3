"""How fast is `fastpath result show` over 1,000,000 samples?

    python bench/analysis_show.py [--samples 1000000] [--url sqlite:///tmp/show-1m.db]

Builds (once; reused when it already holds the samples) a store with two swprofiles x 10
result classes x 10 sessions, then times the library call (compare_swprofiles + render) and
the whole command in a fresh process (`fastpath result show ... --format json`), best of 3.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from fastpath.analysis.render import render
from fastpath.analysis.report import compare_swprofiles
from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile

SWPROFILES = ("6.1-baseline", "6.1-candidate")
CLASSES, SESSIONS = 10, 10


def build(url: str, total: int) -> None:
    repeats = total // (len(SWPROFILES) * CLASSES * SESSIONS)
    rng = np.random.default_rng(1)
    with open_store(url) as store:
        if store.count_samples() >= total:
            return
        store.put_sut(Sut("lab"))
        store.put_benchmark(Benchmark("bench/x", "bench", "x"))
        for sw in SWPROFILES:
            store.put_swprofile(SwProfile(sw))
        for c in range(CLASSES):
            store.put_resultclass(ResultClass("bench/x", f"rc{c}", "ns", "lower"))

        def samples():
            for p, sw in enumerate(SWPROFILES):
                for c in range(CLASSES):
                    for s in range(SESSIONS):
                        values = rng.normal(100 * (1 + 0.01 * p * c), 1.0, repeats)
                        for r, v in enumerate(values.tolist()):
                            yield Sample("lab", sw, "bench/x", f"rc{c}", s, r, v)
        start = time.perf_counter()
        n = store.append_samples(samples())
        print(f"built {n} samples in {time.perf_counter() - start:.1f} s")


def best_of(fn, times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--url", default="sqlite:////tmp/fastpath-show-1m.db")
    args = parser.parse_args()
    build(args.url, args.samples)

    def library():
        with open_store(args.url, readonly=True) as store:
            render(compare_swprofiles(store, SWPROFILES), "table")

    argv = ["fastpath", "result", "show", args.url, "--swprofile", SWPROFILES[0],
            "--swprofile", SWPROFILES[1], "--format", "json"]
    print(f"library (open, read columns, group, statistics, render): {best_of(library):.2f} s")
    print(f"command `{' '.join(argv)}`: "
          f"{best_of(lambda: subprocess.run(argv, check=True, capture_output=True)):.2f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
