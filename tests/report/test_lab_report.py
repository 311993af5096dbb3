"""`bisect report --format text` line by line on a bisection recorded on the lab
(tests/report/data/lab-engine: `fastpath lab demo --commits 4 --regression-size 200
--sessions 4`, the posterior engine, 2 December 2026; README there says how it was stored).

The data is the context the demo wrote and its output store merged into a CSV store (text,
about 60 KB). Its paths were rewritten to ``@DATA@`` when it was stored; the test copies the
data and points them at the copy, so it runs anywhere. Numbers are computed here from the
stored sessions (numpy, scipy.stats) and the engine block, not taken from the report."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
import scipy.stats as st
import yaml

from fastpath.analysis.render import fmt_num
from fastpath.bisect import data
from fastpath.report import bisection, text
from fastpath.store import open_store
from tests.report.test_text import pct, sections

DATA = pathlib.Path(__file__).parent / "data" / "lab-engine"
GOOD, PARENT, CULPRIT, LATER, BAD = ("3847e6e023cf9573b1fda3a5ca7666245f74971a",
                                     "db0a3a9f9b81dd3b5e87734ce741d1e83671a490",
                                     "fedb65e3b6ce60b434d029a885bd5dd4bd565367",
                                     "a20c7d56204bde7693664f8f2afcdd3e7b7fc732",
                                     "65c38a4159f96d7976e0f7394b06e8983e19c6c1")


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab-engine")
    shutil.copytree(DATA / "store", work / "store")
    ctx = work / "bisection_context.yaml"
    ctx.write_text((DATA / "bisection_context.yaml").read_text().replace("@DATA@", str(work)))
    return ctx, yaml.safe_load(ctx.read_text()), f"csv:///{work}/store"


def engine_values(raw, sha):
    return [s["value"] for s in raw["engine"]["sessions"] if s["sha"] == sha]


def store_values(url, swprofile):
    with open_store(url, readonly=True) as store:
        return data.session_values(store, "fastpath-lab", swprofile, "fp/syscall", "fpsyscall-getppid")


def test_the_lab_bisection_report_line_by_line(lab_run):
    ctx, raw, url = lab_run
    eng = raw["engine"]
    assert eng["commits"] == [GOOD, PARENT, CULPRIT, LATER, BAD] and eng["answer"]["culprit"]["sha"] == CULPRIT
    parent, culprit = store_values(url, f"bisect-{PARENT[:12]}"), store_values(url, f"bisect-{CULPRIT[:12]}")
    assert np.allclose(parent, engine_values(raw, PARENT)) and np.allclose(culprit, engine_values(raw, CULPRIT))
    blocks = sections(text.render(bisection.load(str(ctx))))
    head, commit, testcase, sut, table, path, reproduce = blocks

    # headline: the engine's step and its interval, in percent of the parent's level
    step, (lo, hi) = eng["answer"]["culprit"]["step"], eng["answer"]["culprit"]["step_ci95"]
    base = np.mean(parent)
    assert head == [f"fastpath bisection: {pct(step / base * 100)} regression of fp/syscall fpsyscall-getppid "
                    "(lower is better)",
                    f"  95% interval of the change: {pct(lo / base * 100)} .. {pct(hi / base * 100)} "
                    f"(step {step:+.4g} ns, [{lo:+.4g}, {hi:+.4g}])"]
    assert head[0] == "fastpath bisection: +241.88% regression of fp/syscall fpsyscall-getppid (lower is better)"

    # the culprit as `fastpath lab history` made it (fixed subjects, authors and dates)
    assert commit == [f'commit: {CULPRIT} ("sys: make getppid() robust against concurrent reparenting")',
                      "author: Otto Pipe <otto@example.org>",
                      "date:   2026-01-06T15:00:00+00:00",
                      f"parent: {PARENT}",
                      f"status: found, probability {eng['posterior'][2]:.4f}; runner-up {BAD[:12]} "
                      f"{eng['answer']['runner_up']['probability']:.4f}",
                      f"range:  {GOOD[:12]}..{BAD[:12]} (good..bad), 4 commits tested, "
                      f"{len(eng['sessions'])} sessions, engine posterior"]
    assert len(eng["sessions"]) == 13

    assert testcase == ["testcase: fp/syscall", "parameters:", "  iterations: 300000",
                        "  warmups: 1  repeats: 5  sessions: 4"]
    # the lab VM's fingerprint, as the store recorded it
    assert sut == ["SUT: fastpath-lab",
                   "  cpu:     QEMU Virtual CPU version 2.5+ (x86_64), 2 CPUs, 1 NUMA node",
                   "  memory:  996.8 MiB",
                   "  machine: - (host fastpath-lab)",
                   "  kernel:  6.1.192-fastpath-lab",
                   "  kernel command line (added): (none)",
                   "  userspace: BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)"]

    # culprit against parent over every result class fp/syscall has (one): mean, %stddev, %change, mark
    cv = [np.std(v, ddof=1) / np.mean(v) * 100 for v in (parent, culprit)]
    change = (np.mean(culprit) - base) / base * 100
    assert st.ttest_ind(culprit, parent, equal_var=False).pvalue < 0.05          # so marked (R)
    assert table == [f"{PARENT[:12]} (parent)      {CULPRIT[:12]} (culprit)",
                     "---------------- ---------------------------",
                     "         %stddev     %change         %stddev",
                     "             \\          |                \\",
                     f"{fmt_num(base):>10} \u00b1 {cv[0]:2.0f}% {pct(change):>10}  "
                     f"{fmt_num(np.mean(culprit)):>10} \u00b1 {cv[1]:2.0f}%  (R)  "
                     f"fpsyscall-getppid (ns, {len(parent)} vs {len(culprit)} sessions)"]
    assert table[4] == "     322.5 \u00b1 16%   +234.29%        1078 \u00b1 10%  (R)  fpsyscall-getppid (ns, 2 vs 3 sessions)"

    # the path: each commit in the order the engine first booted it, its sessions, mean, 95% interval, posterior
    good = store_values(url, "demo-good")
    assert path[0] == "bisection path (fpsyscall-getppid, ns; baselines 4 and 4 sessions):"
    assert path[1].split() == ["step", "commit", "verdict", "sessions", "mean", "95%", "interval", "posterior",
                               "subject"]
    rows = [line.split() for line in path[2:]]
    assert [r[:4] for r in rows] == [["good", GOOD[:12], "GOOD", "4"], ["1", CULPRIT[:12], "-", "3"],
                                     ["2", PARENT[:12], "-", "2"], ["3", LATER[:12], "-", "6"],
                                     ["4", BAD[:12], "bad", "end"], ["bad", BAD[:12], "BAD", "4"]]
    ci = st.t.interval(0.95, len(good) - 1, loc=np.mean(good), scale=st.sem(good))
    assert rows[0][4:7] == [fmt_num(np.mean(good)), f"[{fmt_num(ci[0])},", f"{fmt_num(ci[1])}]"]
    for row, sha in zip(rows[1:4], (CULPRIT, PARENT, LATER)):
        values = engine_values(raw, sha)
        ci = st.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=st.sem(values))
        assert row[4:8] == [fmt_num(np.mean(values)), f"[{fmt_num(ci[0])},", f"{fmt_num(ci[1])}]",
                            f"{eng['posterior'][eng['commits'].index(sha)]:.4f}"]
    assert path[3].endswith("sys: make getppid() robust against concurrent reparenting")
    assert path[4].endswith('sys: comment: spell out "doesn\'t"')

    # how to reproduce it, with the copy's paths
    c = str(ctx)
    assert reproduce == [
        "to reproduce:",
        "  # in the kernel tree: build the parent and the culprit, then boot them alternately",
        "  FP_SCRIPTS=$(fastpath scripts)",
        f"  git checkout {CULPRIT}^ && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env",
        '  cp "$KERNEL_PATH" /tmp/parent.img && cp "$MODULES_PATH" /tmp/parent-modules.tar.xz && PARENT=$GITSHA',
        f"  git checkout {CULPRIT} && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env",
        f'  fastpath bisect confirm --context {c} --kernel "$KERNEL_PATH" --modules "$MODULES_PATH" '
        '--gitsha "$GITSHA" --parent-kernel /tmp/parent.img --parent-modules /tmp/parent-modules.tar.xz '
        '--parent-gitsha "$PARENT"',
        f"  fastpath result show csv:///{ctx.parent}/store --swprofile bisect-{PARENT[:12]} "
        f"--swprofile bisect-{CULPRIT[:12]} --benchmark fp/syscall",
        "  # the whole bisection again:",
        f'  eval "$(fastpath bisect shas {c})"',
        '  git bisect start && git bisect good "$GOOD_SHA" && git bisect bad "$BAD_SHA"',
        f'  git bisect run "$(fastpath scripts)/execute_bisection.sh" {c}']


def test_the_stored_data_is_small_and_names_no_machine_path():
    files = [p for p in DATA.rglob("*") if p.is_file() and p.name != "README.md"]
    assert sum(p.stat().st_size for p in files) < 100_000
    assert not any("/root/" in p.read_text() or "/tmp/" in p.read_text() for p in files)
