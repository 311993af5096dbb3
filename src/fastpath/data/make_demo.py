"""Generate demo.csv: a small, seeded dataset in the sample interchange format.

    python -m fastpath.data.make_demo            # rewrites src/fastpath/data/demo.csv

SUT "fastpath-lab", swprofiles 6.1-baseline and 6.1-regression, 3 sessions x 5 repeats each.
Every value is mean * (1 + boot effect of its session) * (1 + within-boot noise), both normal,
so sessions differ more than repeats inside one session do, as on real machines. The candidate:

- sysbench/thread sysbenchthread-110 (ms, lower is better): +10%  -> a regression (R)
- sysbench/cpu events-per-second (events/s, higher is better): +4% -> an improvement (I)
- fp/syscall ns_per_call (ns, lower is better): unchanged       -> no mark
"""

from __future__ import annotations

import csv
import pathlib
from datetime import datetime, timedelta, timezone

import numpy as np

from fastpath.data import DEMO_CSV

SEED = 20240601
SUT = "fastpath-lab"
SESSIONS, REPEATS = 3, 5
HEADER = ("sut", "swprofile", "benchmark", "resultclass", "unit", "improvement", "session",
          "repeat", "value", "kernel_git_sha", "timestamp")
SWPROFILES = (("6.1-baseline", "830b3c68c1fb"), ("6.1-regression", "fe7a3a7cd6b4"))
# benchmark, result class, unit, improvement, baseline mean, candidate factor, boot sd, repeat sd
CLASSES = (
    ("sysbench/thread", "sysbenchthread-110", "ms", "lower", 4.20, 1.10, 0.012, 0.006),
    ("sysbench/cpu", "events-per-second", "events/s", "higher", 1850.0, 1.04, 0.008, 0.004),
    ("fp/syscall", "ns_per_call", "ns", "lower", 85.0, 1.00, 0.010, 0.005),
)
START = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)


def rows(seed: int = SEED) -> list[tuple]:
    """The demo samples as interchange rows (without the header), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    out, clock = [], START
    for p, (swprofile, sha) in enumerate(SWPROFILES):
        for session in range(SESSIONS):
            boot = {c[1]: rng.normal(0.0, c[6]) for c in CLASSES}
            for repeat in range(REPEATS):
                for bench, rc, unit, better, mean, factor, _, rep_sd in CLASSES:
                    centre = mean * (factor if p else 1.0) * (1 + boot[rc])
                    value = centre * (1 + rng.normal(0.0, rep_sd))
                    clock += timedelta(seconds=7)
                    out.append((SUT, swprofile, bench, rc, unit, better, session, repeat,
                                f"{value:.4f}", sha, clock.strftime("%Y-%m-%dT%H:%M:%SZ")))
            clock += timedelta(minutes=2)          # the reboot between sessions
    return out


def write(path: pathlib.Path) -> int:
    data = rows()
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(data)
    return len(data)


if __name__ == "__main__":
    print(f"wrote {write(DEMO_CSV)} samples to {DEMO_CSV}")
