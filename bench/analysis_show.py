"""How fast is `fastpath result show` over 1,000,000 samples?

    python bench/analysis_show.py [--samples 1000000] [--runs 5] [--url URL ...]

Builds (once per URL; reused when it already holds the samples) a store with two swprofiles
x 10 result classes x 10 sessions, then times the library call (compare_swprofiles + render)
and the whole command in a fresh process (`fastpath result show ... --format json`), each
--runs times: min and median, with the load average (the machine may be shared). Default
URLs: a SQLite file and a CSV directory under /tmp, and database fp_show_1m on the machine's
MariaDB and PostgreSQL (created when missing; `--url` to choose others).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

import numpy as np

from fastpath.analysis.render import render
from fastpath.analysis.report import compare_swprofiles
from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile

SWPROFILES = ("6.1-baseline", "6.1-candidate")
URLS = ["sqlite:////tmp/fastpath-show-1m.db", "/tmp/fastpath-show-1m-csv",
        "mysql://root@127.0.0.1:3306/fp_show_1m", "postgresql://postgres@127.0.0.1:5432/fp_show_1m"]
ADMIN = {"mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
         "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test"}
CLASSES, SESSIONS = 10, 10


def ensure_database(url: str) -> None:
    """Create the database of a mysql:// or postgresql:// URL on the local server if missing."""
    kind = url.split(":", 1)[0]
    if kind not in ADMIN:
        return
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    engine = create_engine(ADMIN[kind], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :n"
                                   if kind == "mysql" else
                                   "SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()


def build(url: str, total: int) -> None:
    ensure_database(url)
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


def timed(fn, runs: int) -> tuple[float, float]:
    """(min, median) wall time of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", action="append", help="a store URL (repeatable; default: four)")
    args = parser.parse_args()
    for url in args.url or URLS:
        build(url, args.samples)

        def library(url=url):
            with open_store(url, readonly=True) as store:
                render(compare_swprofiles(store, SWPROFILES), "table")

        argv = ["fastpath", "result", "show", url, "--swprofile", SWPROFILES[0],
                "--swprofile", SWPROFILES[1], "--format", "json"]
        lib = timed(library, args.runs)
        cmd = timed(lambda: subprocess.run(argv, check=True, capture_output=True), args.runs)
        print(f"{url}: library (open, aggregates, statistics, render) min {lib[0]:.2f} s, "
              f"median {lib[1]:.2f} s; command `{' '.join(argv)}` min {cmd[0]:.2f} s, "
              f"median {cmd[1]:.2f} s ({args.runs} runs, load avg {os.getloadavg()[0]:.1f})",
              flush=True)


if __name__ == "__main__":
    main()
