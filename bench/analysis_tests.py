"""Why the significance test runs over session means: false alarms and power, measured.

    python bench/analysis_tests.py [--trials 2000] [--seed 1]

Each trial draws a baseline and a candidate, S sessions x R repeats each, with a per-boot
offset (sd BOOT, in % of the mean) and within-boot noise (sd REPEAT), then asks two tests at
alpha 0.05 whether they differ: Welch over per-session means (what `result show` uses) and
Welch over all samples pooled flat (what ignoring the sessions would give). With no true
change every mark is a false alarm; with a true change the marked fraction is the power.
"""

from __future__ import annotations

import argparse

import numpy as np

from fastpath.analysis.stats import ALPHA, summarize, welch_p


def draw(rng, mean: float, sessions: int, repeats: int, boot: float, repeat: float):
    offsets = np.repeat(rng.normal(0.0, boot, sessions), repeats)
    values = mean * (1 + offsets) * (1 + rng.normal(0.0, repeat, sessions * repeats))
    return values, np.repeat(np.arange(sessions), repeats)


def marked(rng, change: float, sessions: int, repeats: int, boot: float, repeat: float):
    a = summarize(*draw(rng, 100.0, sessions, repeats, boot, repeat))
    b = summarize(*draw(rng, 100.0 * (1 + change), sessions, repeats, boot, repeat))
    by_session = welch_p(a.mean, a.session_sd, a.sessions, b.mean, b.session_sd, b.sessions)
    flat = welch_p(a.sample_mean, a.sample_sd, a.count, b.sample_mean, b.sample_sd, b.count)
    return by_session < ALPHA, flat < ALPHA


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{args.trials} trials per line; noise in % of the mean; marked = p < {ALPHA}")
    print("sessions x repeats | boot sd | repeat sd | true change | marked: session means | "
          "marked: flat samples")
    for sessions, repeats in ((3, 5), (5, 5), (3, 20)):
        for boot, repeat in ((0.01, 0.005), (0.0, 0.01)):
            for change in (0.0, 0.02, 0.05):
                hits = np.array([marked(rng, change, sessions, repeats, boot, repeat)
                                 for _ in range(args.trials)])
                s, f = hits.mean(axis=0) * 100
                print(f"{sessions} x {repeats:<2}             | {boot * 100:5.1f}%  | "
                      f"{repeat * 100:7.1f}%  | {change * 100:9.0f}%  | {s:19.1f}%  | {f:18.1f}%")


if __name__ == "__main__":
    main()
