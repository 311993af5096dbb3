"""`bisect report --format text` line by line, on a git bisect run and on a posterior-engine run
(tests/report/builder.py), with the numbers computed here independently (numpy, scipy.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from fastpath.errors import PlanError
from fastpath.report import bisection, text
from tests.report import builder
from tests.test_help_examples import check_confirm_args, kernel_tree, type_recipe  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def git_run(tmp_path_factory):
    return builder.git_bisection(tmp_path_factory.mktemp("git"))


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory):
    return builder.engine_bisection(tmp_path_factory.mktemp("engine"))


def sections(out: str) -> list[list[str]]:
    return [block.split("\n") for block in out.rstrip("\n").split("\n\n")]


def pct(x):
    return f"{x:+.2f}%"


def test_git_bisect_report_line_by_line(git_run):
    ctx, tree, shas = git_run
    out = text.render(bisection.load(str(ctx), tree=str(tree)))
    head, commit, testcase, sut, table, path, reproduce = sections(out)
    parent, culprit = builder.STEPS[0][2], builder.STEPS[3][2]
    step = np.mean(culprit) - np.mean(parent)
    ci = st.ttest_ind(culprit, parent, equal_var=False).confidence_interval(0.95)
    base = np.mean(parent)
    assert head == [
        f"fastpath bisection: {pct(step / base * 100)} regression of fp/syscall fpsyscall-getppid (lower is better)",
        f"  95% interval of the change: {pct(ci.low / base * 100)} .. {pct(ci.high / base * 100)} "
        f"(step {step:+.4g} ns, [{ci.low:+.4g}, {ci.high:+.4g}])"]
    assert head[0] == "fastpath bisection: +49.70% regression of fp/syscall fpsyscall-getppid (lower is better)"
    assert commit == [
        f'commit: {shas[5]} ("sys: make getppid() robust against concurrent reparenting")',
        "author: Linus Example <linus@example.org>",
        "date:   2026-01-06T10:00:00+00:00",
        f"parent: {shas[4]}",
        "status: found",
        f"range:  {shas[0][:12]}..{shas[8][:12]} (good..bad), 4 commits tested, 8 sessions, policy sprt"]
    assert testcase == ["testcase: fp/syscall", "parameters:", "  iterations: 300000",
                        "  warmups: 1  repeats: 3  sessions: 5"]
    assert sut == ["SUT: lab",
                   "  cpu:     QEMU Virtual CPU version 2.5+ (x86_64), 2 CPUs, 1 NUMA node",
                   "  memory:  256 MiB",
                   "  machine: Standard PC (i440FX + PIIX, 1996) (host lab-vm)",
                   "  kernel:  6.1.0-lab",
                   "  kernel command line (added): quiet mitigations=off",
                   "  sysctl:  kernel.nmi_watchdog=0",
                   "  userspace: busybox 1.35"]
    assert table[:4] == [f"{shas[4][:12]} (parent)      {shas[5][:12]} (culprit)",
                         "---------------- ---------------------------",
                         "         %stddev     %change         %stddev",
                         "             \\          |                \\"]
    sd = [np.std(v, ddof=1) / np.mean(v) * 100 for v in (parent, culprit)]
    assert table[4] == (f"     100.2 \u00b1 {sd[0]:2.0f}%    +49.70%       150.0 \u00b1 {sd[1]:2.0f}%  (R)  "
                        "fpsyscall-getppid (ns, 3 vs 3 sessions)")
    assert table[5] == ("     2.000 \u00b1  1%     +0.00%       2.000 \u00b1  1%       "
                        "fpsyscall-loop (s, 3 vs 3 sessions)")
    # ops2: one culprit session -> no %stddev and never a mark, whatever the change
    assert table[6] == ("     515.0 \u00b1  1%     -2.91%       500.0             "
                        "fpsyscall-ops2 (ops/s, 2 vs 1 sessions)")
    ops_p = st.ttest_ind([6600, 6700, 6650], [10000, 10100, 9900], equal_var=False).pvalue
    assert ops_p < 0.05
    assert table[7] == ("     10000 \u00b1  1%    -33.50%        6650 \u00b1  1%  (R)  "
                        "fpsyscall-ops10 (ops/s, 3 vs 3 sessions)")
    assert table[8].startswith("(R)/(I): Welch's test over sessions")
    assert len(table) == 9
    good_ci = st.t.interval(0.95, 4, loc=np.mean(builder.GOOD), scale=st.sem(builder.GOOD))
    assert path[0] == "bisection path (fpsyscall-getppid, ns; baselines 5 and 5 sessions):"
    assert path[1].split() == ["step", "commit", "verdict", "sessions", "mean", "95%", "interval", "subject"]
    assert path[2].split()[:6] == ["good", shas[0][:12], "GOOD", "5", "100.0",
                                   f"[{good_ci[0]:.2f},"] and path[2].endswith("fastpath lab: base tree")
    assert [ln.split()[:4] for ln in path[3:7]] == [["1", shas[4][:12], "GOOD", "3"], ["2", shas[6][:12], "SKIP", "0"],
                                                    ["3", shas[7][:12], "BAD", "2"], ["4", shas[5][:12], "BAD", "3"]]
    assert path[4].split()[4:6] == ["-", "-"]
    assert path[7].split()[:3] == ["bad", shas[8][:12], "BAD"]
    assert reproduce[0] == "to reproduce:"
    assert f"  git checkout {shas[5]}^ && $FP_SCRIPTS/build_local_kernel.sh && source ./scripts/.env" in reproduce
    assert any(line.startswith(f"  fastpath bisect confirm --context {ctx} ") for line in reproduce)
    assert f"  fastpath result show sqlite:///{ctx.parent}/out.db --swprofile bisect-{shas[4][:12]} " \
           f"--swprofile bisect-{shas[5][:12]} --benchmark fp/syscall" in reproduce


def test_the_reproduce_recipe_can_be_typed(git_run, kernel_tree, tmp_path, monkeypatch):
    """The report's confirmation recipe, typed into a tree shaped like a kernel's (as bisect
    confirm --help's is, tests/test_help_examples.py): the installed scripts build both kernels
    and their modules, and confirm gets them."""
    ctx, tree, _ = git_run
    lines = bisection.load(str(ctx), tree=str(tree)).reproduce
    recipe = list(lines[:next(i for i, line in enumerate(lines) if line.startswith("fastpath bisect confirm")) + 1])
    recipe = [line.replace(lines[2].split()[2][:-1], "$CULPRIT") for line in recipe]   # the tree's culprit
    monkeypatch.chdir(kernel_tree)
    check_confirm_args(type_recipe(recipe, kernel_tree, tmp_path), kernel_tree)


def test_without_a_tree_the_answer_is_only_bounded(git_run):
    ctx, _, shas = git_run
    head, commit, *_ = sections(text.render(bisection.load(str(ctx))))
    assert commit[:3] == [f"commit: {shas[5]}", f"below:  {shas[4]} (the newest commit known good)",
                          "status: bounded"]
    assert "give --tree" in commit[3]


def test_engine_report_line_by_line(engine_run):
    ctx, shas = engine_run
    out = text.render(bisection.load(str(ctx)))
    head, commit, testcase, sut, table, improvements, path, reproduce = sections(out)
    parent_mean = np.mean([v for i, v in builder.ENGINE_SESSIONS if i == 4])
    assert head == [f"fastpath bisection: {pct(50.1 / parent_mean * 100)} regression of fp/syscall "
                    "fpsyscall-getppid (lower is better)",
                    f"  95% interval of the change: {pct(48.2 / parent_mean * 100)} .. {pct(52.0 / parent_mean * 100)} "
                    "(step +50.1 ns, [+48.2, +52])"]
    assert commit == [f'commit: {shas[5]} ("sys: make getppid() robust against concurrent reparenting")',
                      f"parent: {shas[4]}",
                      f"status: found, probability 0.9990; runner-up {shas[4][:12]} 0.0003",
                      f"range:  {shas[0][:12]}..{shas[8][:12]} (good..bad), 4 commits tested, 7 sessions, "
                      "engine posterior"]
    assert table[4].endswith("(R)  fpsyscall-getppid (ns, 2 vs 3 sessions)")
    assert improvements == ["improvements in the range:",
                            f"  {shas[2][:12]}  p=0.2000  step -0.4 ns [-0.9, +0.1]  mm: tidy comments"]
    assert path[1].split() == ["step", "commit", "verdict", "sessions", "mean", "95%", "interval", "posterior",
                               "subject"]
    rows = {ln.split()[1]: ln.split() for ln in path[2:]}
    assert rows[shas[5][:12]][2:5] == ["-", "3", "150.0"] and "0.9990" in rows[shas[5][:12]]
    assert rows[shas[6][:12]][2:7] == ["-", "1", "150.2", "-", "0.0002"]
    assert rows[shas[0][:12]][2] == "GOOD" and rows[shas[8][:12]][2] == "BAD"
    assert len(path) == 2 + 2 + 4


def test_engine_inconclusive_lists_candidates(tmp_path):
    ctx, shas = builder.engine_bisection(tmp_path, status="inconclusive")
    blocks = sections(text.render(bisection.load(str(ctx))))
    assert blocks[0] == ["fastpath bisection (inconclusive): fp/syscall fpsyscall-getppid (lower is better), "
                         "no culprit measured yet"]
    assert ["candidates:", f"  {shas[5][:12]}  p=0.6000  sys: make getppid() robust against concurrent reparenting",
            f"  {shas[6][:12]}  p=0.3000  init: check early state"] in blocks


def test_malformed_engine_block_names_the_key(tmp_path):
    import yaml

    ctx, _ = builder.engine_bisection(tmp_path)
    data = yaml.safe_load(ctx.read_text())
    data["engine"]["posterior"] = [0.5]
    ctx.write_text(yaml.safe_dump(data))
    with pytest.raises(PlanError, match="engine.posterior"):
        bisection.load(str(ctx))


def test_welch_interval_matches_scipy():
    from fastpath.analysis.stats import summarize

    a, b = [10.0, 11.5, 9.0, 10.2], [12.0, 13.1, 12.4]
    got = bisection.welch_interval(summarize(a, range(4)), summarize(b, range(3)))
    want = st.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert math.isclose(got[0], want.low, rel_tol=1e-9) and math.isclose(got[1], want.high, rel_tol=1e-9)


def test_an_unmeasured_parent_is_replaced_by_the_nearest_measured_commit_below(tmp_path):
    runs = [(i, v) for i, v in builder.ENGINE_SESSIONS if i != 4]          # the parent c4 never booted
    ctx, shas = builder.engine_bisection(tmp_path, runs=runs)
    blocks = sections(text.render(bisection.load(str(ctx))))
    assert blocks[1][1] == f"below:  {shas[3]}"
    table = next(b for b in blocks if b[1].startswith("-----"))
    assert table[0].startswith(f"{shas[3][:12]} (below)")
    assert table[4].endswith("fpsyscall-getppid (ns, 1 vs 3 sessions)") and "(R)" not in table[4]
    assert ["notes:", f"  the culprit's parent {shas[4][:12]} has no sessions: compared with bisect-{shas[3][:12]}, "
            "the nearest measured commit before it"] in blocks


def test_confirm_sessions_are_preferred_for_culprit_against_parent(tmp_path):
    from fastpath.store import open_store

    ctx, tree, shas = builder.git_bisection(tmp_path)
    with open_store(f"sqlite:///{tmp_path}/out.db") as store:
        builder.add(store, f"confirm-{shas[4][:12]}", shas[4], 4, [100.0, 100.3, 99.9, 100.2], builder.T0)
        builder.add(store, f"confirm-{shas[5][:12]}", shas[5], 5, [150.1, 149.8, 150.3], builder.T0)
    blocks = sections(text.render(bisection.load(str(ctx), str(tree))))
    table = next(b for b in blocks if b[1].startswith("-----"))
    assert table[4].endswith("(R)  fpsyscall-getppid (ns, 4 vs 3 sessions)")
    assert ["notes:", f"  culprit against parent: the sessions of `bisect confirm` (confirm-{shas[4][:12]}, "
            f"confirm-{shas[5][:12]})"] in blocks


def test_engine_block_authors_name_the_culprits_author_without_a_tree(tmp_path):
    """`bisect auto` records each commit's author and date in the engine block, so the report
    read without --tree still says who wrote the culprit."""
    import yaml

    ctx, shas = builder.engine_bisection(tmp_path)
    data = yaml.safe_load(ctx.read_text())
    data["engine"]["authors"] = [builder.AUTHORS[i % 2] for i in range(len(shas))]
    data["engine"]["dates"] = [f"2026-01-0{1 + i}T10:00:00+00:00" for i in range(len(shas))]
    ctx.write_text(yaml.safe_dump(data, sort_keys=False))
    commit = sections(text.render(bisection.load(str(ctx))))[1]
    assert commit[:4] == [f'commit: {shas[5]} ("sys: make getppid() robust against concurrent reparenting")',
                          "author: Linus Example <linus@example.org>", "date:   2026-01-06T10:00:00+00:00",
                          f"parent: {shas[4]}"]
    data["engine"]["authors"] = ["x"]
    ctx.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(PlanError, match="engine.authors"):
        bisection.load(str(ctx))


def test_gittree_authors_reads_the_tree(git_run):
    from fastpath.bisect import gittree

    _, tree, shas = git_run
    authors, dates = gittree.authors(tree, [shas[5], shas[0]])
    assert authors == ["Linus Example <linus@example.org>", "Ada Lovelace <ada@example.org>"]
    assert dates == ["2026-01-06T10:00:00+00:00", "2026-01-01T10:00:00+00:00"]
