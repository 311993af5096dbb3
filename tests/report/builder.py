"""A synthetic bisection for report tests: a real git tree, a real SQLite output store and a
context, as `bisect start` + `git bisect run` (or the posterior engine) would leave them.

History: c0 (the good end) .. c8 (the bad end); the culprit is c5 (getppid 100 -> 150 ns).
Every session's repeats are mean-0.5, mean, mean+0.5, so each session's value is exactly the
mean given here and the tests can compute the expected numbers from these lists.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import subprocess

import yaml

from fastpath.bisect import context as contexts
from fastpath.store import open_store
from fastpath.store.model import Benchmark, ResultClass, Sample, Session, Sut, SwProfile

BENCH = "fp/syscall"
RC = "fpsyscall-getppid"
SUT = Sut("lab", host_name="lab-vm", architecture="x86_64", cpu_count=2,
          cpu_model="QEMU Virtual CPU version 2.5+", numa_nodes=1, memory=256 << 20,
          product_name="Standard PC (i440FX + PIIX, 1996)")
CLASSES = [ResultClass(BENCH, RC, "ns", "lower"), ResultClass(BENCH, "fpsyscall-loop", "s", "lower"),
           ResultClass(BENCH, "fpsyscall-ops10", "ops/s", "higher"),
           ResultClass(BENCH, "fpsyscall-ops2", "ops/s", "higher")]
AUTHORS = ["Ada Lovelace <ada@example.org>", "Linus Example <linus@example.org>"]
SUBJECTS = ["fastpath lab: base tree", "docs: fix a typo", "mm: tidy comments", "net: rename a local",
            "fs: spell out isn't", "sys: make getppid() robust against concurrent reparenting",
            "init: check early state", "exit: tidy up status encoding", "docs: null_blk wording"]
GOOD = [100.0, 101.0, 99.0, 100.5, 99.5]            # c0, swprofile v-good
BAD = [150.0, 152.0, 148.0, 151.0, 149.0]           # c8, swprofile v-bad
# git bisect run's steps: (commit index, outcome, session values of RC)
STEPS = [(4, "GOOD", [100.2, 99.8, 100.6]), (6, "SKIP", []), (7, "BAD", [150.5, 149.5]),
         (5, "BAD", [151.0, 149.0, 150.0])]
T0 = datetime.datetime(2026, 12, 1, 20, 0, tzinfo=datetime.timezone.utc)
STEP_MINUTES = 12


def others(i: int) -> dict:
    """The other result classes' session values at commit i: loop unchanged, ops10 -33% from c5,
    ops2 recorded in one session only."""
    after = i >= 5
    return {"fpsyscall-loop": [2.0, 2.02, 1.98],
            "fpsyscall-ops10": [6600.0, 6700.0, 6650.0] if after else [10000.0, 10100.0, 9900.0],
            "fpsyscall-ops2": [500.0] if after else [520.0, 510.0]}


def git(tree, *args, env=None):
    return subprocess.run(["git", "-C", str(tree), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}).stdout.strip()


def make_tree(path: pathlib.Path) -> list[str]:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "master")
    shas = []
    for i, subject in enumerate(SUBJECTS):
        (path / "file.txt").write_text(f"{i}\n")
        name, email = AUTHORS[i % 2][:-1].split(" <")
        when = f"2026-01-0{1 + i % 9}T10:00:00+00:00"
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when}
        git(path, "add", "file.txt")
        git(path, "commit", "-q", "-m", subject, env=env)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def add(store, swprofile: str, sha: str, i: int, values: list[float], start: datetime.datetime,
        first: int = 0) -> None:
    store.put_swprofile(SwProfile(swprofile, kernel_name="6.1.0-lab", kernel_git_sha=sha, userspace="busybox 1.35",
                                  cmdline=("quiet", "mitigations=off"), sysctl=("kernel.nmi_watchdog=0",)))
    extra = others(i)
    for s, mean in enumerate(values, start=first):
        begun = start + datetime.timedelta(minutes=3 * (s - first))
        store.put_session(Session("lab", swprofile, s, "complete", started=begun.isoformat(),
                                  finished=(begun + datetime.timedelta(minutes=2)).isoformat()))
        for rc, per in [(RC, [mean]), *((k, v[s - first:s - first + 1]) for k, v in extra.items())]:
            for m in per:
                for r, d in enumerate((-0.5, 0.0, 0.5)):
                    store.append_sample(Sample("lab", swprofile, BENCH, rc, s, r, m + d * m / 1000))


def base_store(url: str, shas: list[str]) -> None:
    with open_store(url) as store:
        store.put_sut(SUT)
        store.put_benchmark(Benchmark(BENCH, "fp", "syscall", {"iterations": 300000}))
        for rc in CLASSES:
            store.put_resultclass(rc)
        add(store, "v-good", shas[0], 0, GOOD, T0 - datetime.timedelta(hours=2))
        add(store, "v-bad", shas[8], 8, BAD, T0 - datetime.timedelta(hours=1))


def context(tmp: pathlib.Path, shas: list[str], url: str, tested: list[dict]) -> pathlib.Path:
    ctx = contexts.Context(
        plan={"sut": {"name": "lab", "connection": {"method": "SSH", "params": {"host": "127.0.0.1"}}},
              "swprofiles": [{"cmdline": ["quiet", "mitigations=off"], "sysctl": [], "bootscript": []}],
              "benchmarks": [{"include": "fp/syscall.yaml", "params": {"iterations": 300000}}],
              "defaults": {"benchmark": {"warmups": 1, "repeats": 3, "sessions": 5}}},
        good_swprofile="v-good", good_sha=shas[0], bad_swprofile="v-bad", bad_sha=shas[8], resultclass=RC,
        resultstore=f"sqlite:///{tmp}/orig.db", output_resultstore=url, benchmark=BENCH, improvement="lower",
        tested=tested)
    return contexts.save(ctx, tmp / "bisection_context.yaml")


def reason(outcome: str, values: list[float]) -> str:
    """A line in the form the sprt policy writes."""
    if not values:
        return "the kernel did not boot: root@127.0.0.1:40123 did not come back within 60 s after the reboot"
    llr = "+10.25" if outcome == "BAD" else "-10.59"
    return (f"mean {sum(values) / len(values):.6g} over {len(values)} sessions; good 100, bad 150; "
            f"log likelihood ratio {llr} (BAD >= 6.91, GOOD <= -6.91)")


def git_bisection(tmp: pathlib.Path, steps=STEPS) -> tuple[pathlib.Path, pathlib.Path, list[str]]:
    """(context path, tree, shas) of a git bisect run that took ``steps``."""
    tree = tmp / "linux"
    shas = make_tree(tree)
    url = f"sqlite:///{tmp}/out.db"
    base_store(url, shas)
    tested = []
    with open_store(url) as store:
        for n, (i, outcome, values) in enumerate(steps):
            at = T0 + datetime.timedelta(minutes=STEP_MINUTES * n)
            swp = "bisect-" + shas[i][:12]
            if values:
                add(store, swp, shas[i], i, values, at - datetime.timedelta(minutes=8))
            tested.append({"sha": shas[i], "swprofile": swp, "outcome": outcome, "sessions": len(values),
                           "sessions_run": len(values), "time": at.isoformat(timespec="seconds"),
                           "reason": reason(outcome, values)})
    return context(tmp, shas, url, tested), tree, shas


# The posterior engine's run: (commit index, session value) in order.
ENGINE_SESSIONS = [(4, 100.4), (6, 150.2), (5, 149.6), (4, 99.6), (5, 150.4), (3, 100.1), (5, 150.0)]


def engine_block(shas: list[str], status: str = "found", runs=ENGINE_SESSIONS) -> dict:
    posterior = [0.0, 0.0001, 0.0001, 0.0002, 0.0003, 0.9990, 0.0002, 0.0001, 0.0]
    sessions, seen = [], {}
    for n, (i, v) in enumerate(runs):
        at = T0 + datetime.timedelta(minutes=4 * n)
        sessions.append({"index": n, "sha": shas[i], "value": v, "swprofile": "bisect-" + shas[i][:12],
                         "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
        seen[i] = seen.get(i, 0) + 1
    culprit = {"sha": shas[5], "probability": 0.999, "step": 50.1, "step_ci95": [48.2, 52.0]}
    answer = {"culprit": culprit if status == "found" else None,
              "runner_up": {"sha": shas[4], "probability": 0.0003},
              "further": [], "improvements": [{"sha": shas[2], "probability": 0.2, "step": -0.4,
                                               "step_ci95": [-0.9, 0.1]}],
              "candidates": [] if status == "found" else [{"sha": shas[5], "probability": 0.6},
                                                          {"sha": shas[6], "probability": 0.3}]}
    if status != "found":
        posterior = [0.0, 0.01, 0.01, 0.02, 0.06, 0.6, 0.3, 0.0, 0.0]
    return {"name": "posterior", "commits": shas, "subjects": SUBJECTS, "sessions": sessions, "status": status,
            "posterior": posterior, "answer": answer}


def engine_bisection(tmp: pathlib.Path, status: str = "found", runs=ENGINE_SESSIONS) -> tuple[pathlib.Path, list[str]]:
    """(context path, shas) of a posterior-engine run; no tree needed (the block has subjects)."""
    shas = make_tree(tmp / "linux")
    url = f"sqlite:///{tmp}/out.db"
    base_store(url, shas)
    block = engine_block(shas, status, runs)
    by_commit: dict[int, list[float]] = {}
    for i, v in runs:
        by_commit.setdefault(i, []).append(v)
    with open_store(url) as store:
        for i, values in by_commit.items():
            add(store, "bisect-" + shas[i][:12], shas[i], i, values, T0)
    path = context(tmp, shas, url, [])
    data = yaml.safe_load(path.read_text())
    data["engine"] = block
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, shas
