"""`plan exec` on a real SSH server (this host's running kernel): samples, resume, failures."""

from __future__ import annotations

import collections
import io
import os
import signal
import subprocess
import sys
import time

import pytest

from fastpath.cli.main import main
from fastpath.execute import Runner, run_plan
from fastpath.plan import load_plan
from fastpath.store import open_store
from tests.execute.conftest import CPU, THREAD, sshd_plan


def identities(store):
    return collections.Counter((s.swprofile, s.benchmark, s.resultclass, s.session, s.repeat)
                               for s in store.samples())


def test_plan_runs_every_session_and_stores_every_sample(plan_file, tmp_path):
    out = io.StringIO()
    outcome = run_plan(load_plan(plan_file), f"sqlite:///{tmp_path}/r.db", stream=out)
    assert outcome.samples == 2 * 3 * 2 and outcome.errors == 0
    with open_store(f"sqlite:///{tmp_path}/r.db", readonly=True) as store:
        assert [(s.session, s.status) for s in store.sessions()] == [(0, "complete"), (1, "complete")]
        ids = identities(store)
        assert set(ids.values()) == {1} and len(ids) == 12
        assert {rc for _, _, rc, _, _ in ids} == {"sysbenchcpu-2000", "sysbenchthread-110"}
        assert all(s.value > 0 and s.timestamp for s in store.samples())
        sut, = store.suts()
        assert sut.id == "loopback" and sut.cpu_count == os.cpu_count()
        swp, = store.swprofiles()
        assert swp.kernel_name == os.uname().release and swp.userspace
        assert store.sessions()[0].boot_id == open("/proc/sys/kernel/random/boot_id").read().strip()
    text = out.getvalue()
    assert "running | session 1 | sysbench/thread | samples 9/12, 3 left" in text
    assert "ETA" in text and "done: 12 samples" in text


def test_existing_store_is_refused_without_append_and_append_redoes_nothing(plan_file, tmp_path,
                                                                            capsys):
    store = str(tmp_path / "res")
    assert main(["plan", "exec", "--no-progress", "--output", store, plan_file]) == 0
    assert "12 samples, 0 errors" in capsys.readouterr().out
    before = (tmp_path / "res" / "samples.csv").read_text()
    assert main(["plan", "exec", "--output", store, plan_file]) == 1
    err = capsys.readouterr().err
    assert err == f"Error: store {store} already holds results; use --append to add to it " \
                  "(complete sessions are not redone)\n"
    assert main(["plan", "exec", "--no-progress", "--append", "--output", store, plan_file]) == 0
    assert "0 samples, 0 errors" in capsys.readouterr().out
    assert (tmp_path / "res" / "samples.csv").read_text() == before


def test_ssh_drop_mid_benchmark_loses_and_duplicates_nothing(tmp_path, sshd):
    mark = tmp_path / "dropped-once"
    # A fault injector: the first run kills its own sshd session process while sysbench runs,
    # which drops the SSH connection (ssh exits 255) exactly as a network failure would.
    fakedrop = f"""\
- suite: fakedrop
  name: sysbench
  command: [sh, -c, "p=$PPID; t='--events=300 --time=0'; if [ ! -e '{mark}' ]; then touch '{mark}'; t=--time=2; (sleep 0.3; kill -9 $p) & fi; sysbench cpu --cpu-max-prime=2000 $t run"]
  parser: sysbench
  resultclasses: [{{name: fakedrop-cpu, metric: events_per_second, unit: events/s, improvement: higher}}]
  warmups: 0
"""
    plan = load_plan(sshd_plan(tmp_path, sshd, CPU + fakedrop))
    url = f"sqlite:///{tmp_path}/r.db"
    outcome = run_plan(plan, url, progress=False)
    assert mark.exists()
    with open_store(url, readonly=True) as store:
        sessions = [(s.session, s.status) for s in store.sessions()]
        assert sessions == [(0, "failed"), (1, "complete"), (2, "complete")]
        err, = store.errors()
        assert err.stage == "benchmark" and err.session == 0 and "ssh to" in err.message
        assert err.benchmark == "fakedrop/sysbench"
        ids = identities(store)
        assert set(ids.values()) == {1}
        # the failed session keeps the samples it took before the drop
        assert sorted(k for k in ids if k[3] == 0) == [
            ("running", "sysbench/cpu", "sysbenchcpu-2000", 0, r) for r in range(3)]
        assert len(ids) == 3 + 2 * (3 + 3)
    assert outcome.samples == len(ids) and outcome.errors == 1
    run_plan(plan, url, append=True, progress=False)
    with open_store(url, readonly=True) as store:
        assert identities(store) == ids and len(store.sessions()) == 3
    # result show leaves the failed session's 3 samples out of the statistics, and says so
    import json

    from fastpath.analysis.show import show

    cpu = next(r for r in json.loads(show(url, ["running"], fmt="json").text)
               if r["resultclass"] == "sysbenchcpu-2000")
    assert (cpu["count"], cpu["sessions"], cpu["incomplete_sessions"],
            cpu["incomplete_samples"]) == (6, 2, 1, 3)
    assert ("running: left out of the statistics: incomplete session 0 (failed), 3 samples."
            in show(url, ["running"]).text)


@pytest.mark.slow     # 8 benchmark runs of 1 s; the dev tier: Ctrl-C below, --append after failures above
def test_ctrl_c_then_append_loses_and_duplicates_nothing(tmp_path, sshd):
    slow = """\
- include: sysbench/cpu.yaml
  params: {max_prime: 2000, time: 1}
"""
    plan = sshd_plan(tmp_path, sshd, slow)
    store = tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-m", "fastpath", "plan", "exec", "--output",
                             str(store), plan], stderr=subprocess.PIPE, text=True)
    samples = store / "samples.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:     # interrupt once a sample of session 0 is in
        if samples.exists() and len(samples.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    assert "Traceback" not in proc.stderr.read()
    with open_store(str(store), readonly=True) as s:
        kept = identities(s)
        assert 1 <= len(kept) < 6 and set(kept.values()) == {1}
    assert main(["plan", "exec", "--no-progress", "--append", "--output", str(store), plan]) == 0
    with open_store(str(store), readonly=True) as s:
        ids = identities(s)
        statuses = {x.session: x.status for x in s.sessions()}
    assert set(ids.values()) == {1} and set(kept) <= set(ids)
    complete = [k for k, v in statuses.items() if v == "complete"]
    assert len(complete) == 2 and statuses[0] != "complete" or len(kept) == 3
    assert sum(1 for k in ids if k[3] in complete) == 2 * 3
    assert len(ids) == 2 * 3 + sum(1 for k in kept if k[3] not in complete)


def test_failures_are_data_and_the_run_goes_on(tmp_path, sshd):
    broken = """\
- suite: broken
  name: exits
  command: [sh, -c, "echo about to fail; exit 4"]
  parser: keyvalue
  resultclasses: [{name: broken-x, metric: x, improvement: lower}]
- suite: broken
  name: garbage
  command: [echo, "no numbers here"]
  parser: keyvalue
  resultclasses: [{name: broken-y, metric: y, improvement: lower}]
- suite: broken
  name: absent
  check: [sh, -c, "command -v no-such-benchmark-xyz"]
  command: [no-such-benchmark-xyz]
  parser: keyvalue
  resultclasses: [{name: broken-z, metric: z, improvement: lower}]
"""
    url = f"sqlite:///{tmp_path}/r.db"
    outcome = run_plan(load_plan(sshd_plan(tmp_path, sshd, broken + CPU)), url, progress=False)
    with open_store(url, readonly=True) as store:
        errors = sorted((e.session, e.stage, e.benchmark, e.message) for e in store.errors())
        assert [s.status for s in store.sessions()] == ["complete", "complete"]
        assert len(list(store.samples())) == 2 * 3
    assert errors[0] == (0, "benchmark", "broken/absent",
                         "broken/absent is not installed on the SUT (check failed: sh -c "
                         "command -v no-such-benchmark-xyz)")
    assert (0, "benchmark", "broken/exits", "broken/exits exited with status 4") in errors
    assert any(e[2] == "broken/garbage" and e[1] == "parse" for e in errors)
    exits = next(e for e in outcome.swprofiles[0].errors if e.benchmark == "broken/exits")
    assert exits.output.startswith("about to fail")
    assert len(errors) == 3 * 2          # each session records what failed in it
    assert outcome.unmeasured() == [
        f"{b} on running: {m}" for b, m in (
            ("broken/exits", "broken/exits exited with status 4"),
            ("broken/garbage", "broken/garbage: no key=value pairs in output"),
            ("broken/absent", "broken/absent is not installed on the SUT (check failed: sh -c "
                              "command -v no-such-benchmark-xyz)"))]


def test_runner_api_runs_more_sessions_of_one_swprofile(tmp_path, sshd):
    plan = load_plan(sshd_plan(tmp_path, sshd, CPU + THREAD))
    swp = plan.swprofiles[0]
    with open_store(f"sqlite:///{tmp_path}/r.db") as store, Runner(plan, store) as runner:
        first = runner.run_swprofile(swp, sessions=1, benchmarks=["sysbench/cpu"])
        assert first.ok and first.sessions == [0] and len(first.samples) == 3
        assert {s.resultclass for s in first.samples} == {"sysbenchcpu-2000"}
        more = runner.run_swprofile(swp, sessions=2, benchmarks=["sysbench/cpu"])
        assert more.sessions == [1, 2] and len(more.samples) == 6
        assert len(list(store.samples())) == 9 and runner.completed(swp.name) == 3


def other_key(tmp_path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True)
    return str(tmp_path / "other")


def closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unknown_key(tmp_path, sshd):
    (tmp_path / "empty_known_hosts").write_text("")
    return {"known_hosts": str(tmp_path / "empty_known_hosts")}, "the SUT's host key is unknown"


def changed_key(tmp_path, sshd):
    kind, key = open(other_key(tmp_path) + ".pub").read().split()[:2]
    (tmp_path / "wrong_known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {kind} {key}\n")
    return {"known_hosts": str(tmp_path / "wrong_known_hosts")}, "the SUT's host key has CHANGED"


def rejected_key(tmp_path, sshd):
    return {"keyfile": other_key(tmp_path)}, "the SUT refused the login"


def refused_port(tmp_path, sshd):
    return {"port": closed_port()}, "connection refused (nothing listens on that port)"


@pytest.mark.parametrize("fault", [unknown_key, changed_key, rejected_key, refused_port])
def test_permanent_ssh_failures_stop_plan_exec_at_once_with_ssh_reason(tmp_path, sshd, capsys, fault):
    """The plan keeps the default boot_timeout (300 s): nothing of it is waited out."""
    import dataclasses
    change, reason = fault(tmp_path, sshd)
    plan = sshd_plan(tmp_path, dataclasses.replace(sshd, **change), CPU)
    start = time.monotonic()
    assert main(["plan", "exec", "--output", str(tmp_path / "res"), plan]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "waiting" not in err
    assert err.startswith("Error: ssh to ") and reason in err and "ssh said: " in err
    if fault is changed_key:
        assert "ssh-keygen -f" in err and "-R" in err and "unknown" not in err


def test_a_store_with_another_machine_under_the_sut_name_is_refused(plan_file, tmp_path, capsys):
    from fastpath.store.model import Sut
    url = f"sqlite:///{tmp_path}/r.db"
    with open_store(url) as store:
        store.put_sut(Sut("loopback", architecture="aarch64", cpu_count=128))
    assert main(["plan", "exec", "--append", "--output", url, plan_file]) == 1
    assert capsys.readouterr().err.startswith(
        "Error: SUT 'loopback' in sqlite:///")
    with open_store(url, readonly=True) as store:
        assert list(store.samples()) == []


def test_a_run_that_measured_nothing_fails_and_append_measures_it_again(tmp_path, sshd, capsys):
    bin_dir = tmp_path / "bin"
    absent = "".join(f"""\
- suite: x
  name: {name}
  check: [test, -x, "{bin_dir}/fp-{name}"]
  command: ["{bin_dir}/fp-{name}"]
  parser: keyvalue
  resultclasses: [{{name: x-{name}, metric: value, improvement: lower}}]
""" for name in ("one", "two"))
    plan, store = sshd_plan(tmp_path, sshd, absent), str(tmp_path / "res")
    assert main(["plan", "exec", "--no-progress", "--output", store, plan]) == 2
    out, err = capsys.readouterr()
    assert out == f"0 samples, 4 errors written to {store}\n"
    assert err == (f"Error: no sample of x/one on running: x/one is not installed on the SUT (check "
                   f"failed: test -x {bin_dir}/fp-one); of x/two on running: x/two is not installed "
                   f"on the SUT (check failed: test -x {bin_dir}/fp-two)\n")
    bin_dir.mkdir()
    for name in ("one", "two"):           # the benchmarks get installed on the SUT
        (bin_dir / f"fp-{name}").write_text("#!/bin/sh\necho value=1.5\n")
        (bin_dir / f"fp-{name}").chmod(0o755)
    assert main(["plan", "exec", "--no-progress", "--append", "--output", store, plan]) == 0
    assert capsys.readouterr().out == f"12 samples, 0 errors written to {store}\n"
    with open_store(store, readonly=True) as s:
        assert [(x.session, x.status) for x in s.sessions()] == [(i, "complete") for i in range(4)]
        assert {x.session for x in s.samples()} == {2, 3} and len(s.errors()) == 4
    assert main(["plan", "exec", "--no-progress", "--append", "--output", store, plan]) == 0
    assert capsys.readouterr().out == f"0 samples, 0 errors written to {store}\n"


def test_a_kernel_that_did_not_boot_and_gave_no_sample_is_unmeasured():
    from fastpath.execute import PlanOutcome, SwProfileOutcome
    from fastpath.store.model import ErrorRecord, Sample
    boot = ErrorRecord("sut", "6.9", "boot", "127.0.0.1 did not come back within 300 s", session=0)
    dead = SwProfileOutcome("6.9", errors=[boot], boot_failed=True)
    fine = SwProfileOutcome("6.8", samples=[Sample("sut", "6.8", "a/b", "rc", 0, 0, 1.0)],
                            sessions=[0], benchmarks=["a/b"])
    assert PlanOutcome("s", [fine]).unmeasured() == []
    assert PlanOutcome("s", [fine, dead]).unmeasured() == [
        "every benchmark on 6.9: 127.0.0.1 did not come back within 300 s"]


def fake_kernel_that_fails_to_boot(monkeypatch, boots: set[int]) -> None:
    """Fault injector: the loopback SUT is this host, whose kernel cannot be rebooted into one
    that fails, so SutMachine.boot raises KernelBootError, as a kernel that did not come back
    does, on the boots numbered in ``boots`` (0, 1, ... from here on); the SUT is then broken
    until recovered (reconnect), as after its fallback to its own kernel."""
    from fastpath.errors import KernelBootError
    from fastpath.sut.machine import BROKEN, SutMachine
    real, count = SutMachine.boot, iter(range(10**6))

    def fake_boot(self, swp):
        if next(count) in boots:
            self.state = BROKEN
            raise KernelBootError(f"{self.t.conn.label} did not come back within 300 s (injected)")
        return real(self, swp)
    monkeypatch.setattr(SutMachine, "boot", fake_boot)


def test_append_after_a_boot_failure_runs_exactly_the_missing_sessions(tmp_path, sshd, capsys,
                                                                       monkeypatch):
    """3 sessions; the kernel does not come back at session 1. --append boots sessions 1 and 2,
    a second --append boots nothing: the boot error names index 1, which the store then gives
    the good session of the first --append; that session is done all the same."""
    from fastpath.execute.runner import done_sessions
    plan, store = sshd_plan(tmp_path, sshd, CPU, sessions=3), str(tmp_path / "res")
    fake_kernel_that_fails_to_boot(monkeypatch, {1})
    assert main(["plan", "exec", "--no-progress", "--output", store, plan]) == 0
    assert capsys.readouterr().out == f"3 samples, 1 errors written to {store}\n"
    with open_store(store, readonly=True) as s:
        kept = identities(s)
        assert [(x.session, x.status) for x in s.sessions()] == [(0, "complete")]
        assert [(e.session, e.stage) for e in s.errors()] == [(1, "boot")] and len(kept) == 3
    monkeypatch.undo()                    # the kernel boots now
    assert main(["plan", "exec", "--no-progress", "--append", "--output", store, plan]) == 0
    assert capsys.readouterr().out == f"6 samples, 0 errors written to {store}\n"
    assert main(["plan", "exec", "--no-progress", "--append", "--output", store, plan]) == 0
    assert capsys.readouterr().out == f"0 samples, 0 errors written to {store}\n"
    with open_store(store, readonly=True) as s:
        assert [(x.session, x.status) for x in s.sessions()] == [(i, "complete") for i in range(3)]
        ids = identities(s)
        assert set(kept) <= set(ids) and set(ids.values()) == {1} and len(ids) == 3 * 3
        assert done_sessions(s, "loopback", "running") == 3


def gone(pid: int) -> bool:
    """The process has exited (a zombie counts: this container's init may not reap it)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_ctrl_c_stops_the_benchmark_on_the_sut_and_keeps_its_samples(tmp_path, sshd):
    """Two quick runs give samples, the third hangs (a child of the benchmark's shell sleeps);
    SIGINT to `plan exec`: exit 130, both samples kept, nothing of the benchmark left running."""
    count, pids = tmp_path / "count", tmp_path / "pids"
    slow = f"""\
- suite: x
  name: hangs
  command: [sh, -c, "n=$(cat {count} 2>/dev/null || echo 0); echo $((n+1)) > {count}; if [ $n -ge 2 ]; then sleep 120 & echo $$ $! > {pids}; wait; fi; echo value=1"]
  parser: keyvalue
  resultclasses: [{{name: x-hangs, metric: value, improvement: lower}}]
  warmups: 0
  repeats: 5
"""
    plan, store = sshd_plan(tmp_path, sshd, slow), tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-m", "fastpath", "plan", "exec", "--output",
                             str(store), plan], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (pids.exists() and len(pids.read_text().split()) == 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    shell, sleeper = map(int, pids.read_text().split())
    assert not gone(shell) and not gone(sleeper)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    assert "Traceback" not in proc.stderr.read()
    assert gone(shell) and gone(sleeper)
    with open_store(str(store), readonly=True) as s:
        assert sorted((x.session, x.repeat, x.value) for x in s.samples()) == [(0, 0, 1.0), (0, 1, 1.0)]
        assert [(x.session, x.status) for x in s.sessions()] == [(0, "failed")]


def test_a_plan_without_a_kernel_says_its_sessions_share_one_boot(plan_file, tmp_path):
    """No kernel, no reboot: both sessions carry this host's boot id; plan exec says so, and
    result show counts them as one boot (no interval over sessions, no test)."""
    import json

    from fastpath.analysis.show import show

    out = io.StringIO()
    url = f"sqlite:///{tmp_path}/r.db"
    run_plan(load_plan(plan_file), url, stream=out)
    assert ("note: swprofile running has no kernel: its sessions run in the running kernel "
            "without a reboot (one boot id)") in out.getvalue()
    with open_store(url, readonly=True) as store:
        assert len({s.boot_id for s in store.sessions()}) == 1 and len(store.sessions()) == 2
    rows = json.loads(show(url, ["running"], fmt="json").text)
    assert {(r["sessions"], r["boots"], r["ci_basis"]) for r in rows} == {(2, 1, "samples")}
    assert ("running: sessions 0, 1 ran in one boot (the same boot id; a plan without a kernel "
            "does not reboot)") in show(url, ["running"]).text
