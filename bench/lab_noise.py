#!/usr/bin/env python3
"""Noise of the lab benchmarks: coefficient of variation within one boot and across boots.

Boots the lab VM BOOTS times (a power-cycle between boots) and runs each benchmark RUNS times
per boot. Within-boot CV is the mean over boots of the CV of that boot's runs; across-boot CV
is the CV of the per-boot means. These set the bisection defaults (repeats and sessions).

    python3 bench/lab_noise.py [--boots 5] [--runs 10] [--kernel bzImage] [--json out.json]

Needs a lab kernel (`fastpath lab kernel DIR` or --kernel). The VM runs in a temporary lab home.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time

from fastpath.lab import vm

BENCHMARKS = {
    # name: (command in the VM, regex for the value, unit)
    "fp-syscall": ("fp-syscall -n 1000000", r"ns_per_call=([\d.]+)", "ns/call"),
    "fp-pipe": ("fp-pipe -n 5000", r"us_per_roundtrip=([\d.]+)", "us/roundtrip"),
    "fp-pipe-pinned": ("fp-pipe -n 5000 -c 0", r"us_per_roundtrip=([\d.]+)", "us/roundtrip"),
    "sysbench-threads": ("sysbench threads --threads=2 --time=2 run",
                         r"total number of events:\s+(\d+)", "events/2s"),
}


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) * 100 if len(values) > 1 else 0.0


def run_in_vm(lab: vm.LabVm, command: str) -> str:
    proc = subprocess.run(lab.ssh_command(command), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"lab_noise: `{command}` failed in the VM: {proc.stderr.strip()}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--kernel", default=None, help="kernel image (default: the lab's base kernel)")
    parser.add_argument("--accel", default="auto")
    parser.add_argument("--json", default=None, help="also write all samples and summaries here")
    args = parser.parse_args()

    samples: dict[str, list[list[float]]] = {name: [] for name in BENCHMARKS}
    boot_seconds = []
    with tempfile.TemporaryDirectory(prefix="fastpath-lab-noise-") as home:
        kernel = args.kernel or str(vm.base_kernel(vm.lab_home(None)))
        lab = vm.up(kernel, home=home, accel=args.accel)
        try:
            for boot in range(args.boots):
                if boot:
                    lab = vm.power_cycle(home)
                boot_seconds.append(lab.boot_seconds)
                for name, (command, pattern, _) in BENCHMARKS.items():
                    values = [float(re.search(pattern, run_in_vm(lab, command)).group(1))
                              for _ in range(args.runs)]
                    samples[name].append(values)
                    print(f"boot {boot + 1}/{args.boots} {name}: mean {statistics.mean(values):.2f} "
                          f"cv {cv(values):.2f}%", flush=True)
        finally:
            vm.down(home)

    summary = {"accel": lab.accel, "boots": args.boots, "runs": args.runs,
               "boot_to_ssh_seconds": {"mean": round(statistics.mean(boot_seconds), 2),
                                       "max": max(boot_seconds)}, "benchmarks": {}}
    print(f"\naccel {lab.accel}; boot to SSH: mean {statistics.mean(boot_seconds):.1f} s, "
          f"max {max(boot_seconds):.1f} s\n")
    print(f"{'benchmark':18} {'unit':13} {'mean':>10} {'within-boot CV':>15} {'across-boot CV':>15}")
    for name, per_boot in samples.items():
        means = [statistics.mean(v) for v in per_boot]
        within = statistics.mean(cv(v) for v in per_boot)
        across = cv(means)
        unit = BENCHMARKS[name][2]
        summary["benchmarks"][name] = {"unit": unit, "mean": statistics.mean(means),
                                       "within_boot_cv_pct": within, "across_boot_cv_pct": across,
                                       "samples": per_boot}
        print(f"{name:18} {unit:13} {statistics.mean(means):10.2f} {within:14.2f}% {across:14.2f}%")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"\n({time.monotonic() - started:.0f} s)")
