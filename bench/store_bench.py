"""Benchmark the result store backends.

Per backend: bulk-append N samples (samples/s), durable single-sample append latency
(median and p99 over --appends calls, each committed/fsync'ed before it returns), then, in a
fresh process, the reads over the N samples: all values of one swprofile pair as columns
(Store.sample_columns) plus grouping them per (benchmark, result class, swprofile), and what
`result show` reads: the pair's per-session aggregates (Store.session_aggregates).

    python bench/store_bench.py [--samples 1000000] [--backends csv,sqlite,mysql,postgresql]

MariaDB and PostgreSQL are the machine's servers on loopback (root / postgres, no
password); each run uses a new database, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import statistics
import tempfile
import time
import uuid

from sqlalchemy import create_engine, text

from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Sut, SwProfile

SERVERS = {"mysql": ("mysql+pymysql://root@127.0.0.1:3306/test", "mysql://root@127.0.0.1:3306/{}"),
           "postgresql": ("postgresql+psycopg://postgres@127.0.0.1:5432/test",
                          "postgresql://postgres@127.0.0.1:5432/{}")}
RESULTCLASSES = 10
REPEATS = 10


def dataset(n: int) -> list[Sample]:
    """n samples: 2 swprofiles x 10 result classes x sessions x 10 repeats."""
    per_class = n // (2 * RESULTCLASSES)
    out = []
    for swp in ("base", "cand"):
        for rc in range(RESULTCLASSES):
            for i in range(per_class):
                out.append(Sample("sut", swp, "bench/b", f"rc{rc}", i // REPEATS, i % REPEATS,
                                  1000.0 + rc + (i % 97) * 0.01, "2026-11-28T00:00:00Z"))
    return out


def prepare(store) -> None:
    store.put_sut(Sut("sut", architecture="x86_64", cpu_count=2))
    for swp in ("base", "cand", "latency"):
        store.put_swprofile(SwProfile(swp))
    store.put_benchmark(Benchmark("bench/b", "bench", "b"))
    for rc in range(RESULTCLASSES):
        store.put_resultclass(ResultClass("bench/b", f"rc{rc}", "ns", "lower"))


READER = """
import json, sys, time
from fastpath.store import open_store
url, n = sys.argv[1], int(sys.argv[2])
with open_store(url, readonly=True) as store:
    t = time.perf_counter()
    cols = store.sample_columns(swprofiles=["base", "cand"])
    read = time.perf_counter() - t
    t = time.perf_counter()
    groups = cols.groups()
    group = time.perf_counter() - t
    del cols
    t = time.perf_counter()
    aggs = store.session_aggregates(swprofiles=["base", "cand"])
    aggregate = time.perf_counter() - t
assert len(groups) == 20 and int(aggs.count.sum()) == n, (len(groups), int(aggs.count.sum()))
print(json.dumps([read, group, aggregate]))
"""


def read_in_fresh_process(url: str, n: int) -> tuple[float, float, float]:
    """Time the reads as `result show` does them: a new process, nothing else in memory."""
    out = subprocess.run([sys.executable, "-c", READER, url, str(n)], check=True,
                         capture_output=True, text=True).stdout
    read, group, aggregate = json.loads(out)
    return read, group, aggregate


def run(url: str, samples: list[Sample], appends: int) -> dict:
    n = len(samples)
    with open_store(url) as store:
        prepare(store)
        t = time.perf_counter()
        assert store.append_samples(samples) == len(samples)
        bulk = time.perf_counter() - t
        lat = []
        for i in range(appends):
            s = Sample("sut", "latency", "bench/b", "rc0", 0, i, float(i))
            t = time.perf_counter()
            store.append_sample(s)
            lat.append(time.perf_counter() - t)
    del samples
    read, group, aggregate = read_in_fresh_process(url, n)
    lat.sort()
    return {"n": n, "rate": n / bulk, "bulk_s": bulk,
            "median_ms": statistics.median(lat) * 1e3, "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1e3,
            "read_s": read, "group_s": group, "aggregate_s": aggregate}


def with_url(kind: str, tmp: str):
    if kind == "csv":
        return os.path.join(tmp, "csvstore"), None
    if kind == "sqlite":
        return f"sqlite:///{os.path.join(tmp, 'store.db')}", None
    admin, template = SERVERS[kind]
    name = f"fp_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))

    def drop():
        force = " WITH (FORCE)" if kind == "postgresql" else ""
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name}{force}"))
        engine.dispose()
    return template.format(name), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--backends", default="csv,sqlite,mysql,postgresql")
    args = parser.parse_args()
    print("| backend | samples | bulk append (samples/s) | durable append median / p99 (ms) "
          "| read pair as columns (s) | + group (s) | read pair as session aggregates (s) "
          "| load avg |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp:
            url, drop = with_url(kind, tmp)
            try:
                r = run(url, dataset(args.samples), args.appends)
            finally:
                if drop:
                    drop()
        print(f"| {kind} | {r['n']:,} | {r['rate']:,.0f} ({r['bulk_s']:.1f} s) | "
              f"{r['median_ms']:.2f} / {r['p99_ms']:.2f} | {r['read_s']:.2f} | {r['group_s']:.2f} | "
              f"{r['aggregate_s']:.2f} | "
              f"{os.getloadavg()[0]:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
