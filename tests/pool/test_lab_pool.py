"""The pool on the lab: two VMs exported by a real labgrid-coordinator and labgrid-exporter
(`fastpath.lab.pool.up_pool(2, labgrid=True)`, shared by every test of this module)."""

from __future__ import annotations

import collections
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from fastpath.execute import run_plan
from fastpath.lab import cache, grid, pool as lab_pool, vm
from fastpath.plan import load_plan
from fastpath.store import open_store
from tests.pool.test_labgrid import client, who

pytestmark = [pytest.mark.lab, pytest.mark.pool]

PLACES = [grid.place_name(0), grid.place_name(1)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("pool-lab")
    image = cache.base_build(cache.cached_tree()).image
    state = lab_pool.up_pool(2, image, home=home, labgrid=True)
    try:
        yield home, state
    finally:
        lab_pool.down_pool(home)


@pytest.fixture
def coord(lab):
    """The coordinator address, with both VMs answering and no place locked (checked)."""
    home, state = lab
    for h in [home, *lab_pool.member_homes(home)]:
        if not vm.is_running(h):
            vm.power_cycle(h)
        vm.wait_for_ssh(vm.current(h), 300)
    address = state["labgrid"]["coordinator"]
    assert who(address) == []
    yield address
    assert who(address) == [], "a test left a place locked"


def plan_file(tmp_path, home, address, sessions=4, iterations=3000000):
    sut = lab_pool.pool_sut(home, [], None)
    sut["pool"] = {"labgrid": {"coordinator": address, "tags": dict(grid.TAGS), "count": 2}}
    plan = {"sut": sut, "swprofiles": [{"name": "running"}],
            "benchmarks": [{"include": "fp/syscall.yaml", "params": {"iterations": iterations}}],
            "defaults": {"benchmark": {"warmups": 0, "repeats": 3, "sessions": sessions,
                                       "timeout": "120s"}}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def test_lab_up_exports_the_vms_as_tagged_places_with_ssh_and_power(lab, coord):
    home, state = lab
    assert [v["running"] and v["ssh"] for v in state["vms"]] == ["answers", "answers"]
    assert set(state["labgrid"]["processes"].values()) != {"stopped"}
    listed = client(coord, "-v", "places")
    for place in PLACES:
        assert f"Place '{place}'" in listed
    shown = client(coord, "-p", PLACES[1], "show")
    assert "board=fastpath_lab" in shown.replace(": ", "=") or "fastpath_lab" in shown
    assert "NetworkService" in shown and "NetworkPowerPort" in shown
    assert yaml.safe_load((home / "pool.yaml").read_text())["sut"]["pool"]["labgrid"]["count"] == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_in_plan_exec_releases_the_locks(lab, coord, tmp_path, sig):
    home, _ = lab
    path = plan_file(tmp_path, home, coord, sessions=20)
    proc = subprocess.Popen([sys.executable, "-m", "fastpath", "plan", "exec", "--output",
                             str(tmp_path / "out"), str(path)], stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:        # some samples are in the store
            if re.search(r"samples [1-9][0-9]*/", line):
                break
        assert len(who(coord)) == 2
        proc.send_signal(sig)
        rest = proc.stderr.read()
        assert proc.wait(60) == 130, rest
    finally:
        proc.kill()
    assert who(coord) == []
    assert "Reservation" not in client(coord, "reservations")
    with open_store(str(tmp_path / "out"), readonly=True) as store:
        assert store.samples()                  # what was taken is kept


class KillWhenRunning(io.StringIO):
    """The progress stream: kills the QEMU of ``home`` once a benchmark runs on ``place``."""

    def __init__(self, place, home):
        super().__init__()
        self.place, self.home, self.killed = place, home, threading.Event()

    def write(self, text):
        if not self.killed.is_set() and f"on {self.place} | fp/syscall" in text:
            self.killed.set()
            threading.Timer(0.3, lambda: os.kill(vm.current(self.home).pid, signal.SIGKILL)).start()
        return super().write(text)


def test_killing_one_vms_qemu_moves_its_session_to_the_other_and_loses_no_sample(lab, coord,
                                                                                 tmp_path):
    home, _ = lab
    victim = lab_pool.member_homes(home)[0]          # VM 1 = place fastpath-lab-1
    stream = KillWhenRunning(PLACES[1], victim)
    url = f"sqlite:///{tmp_path}/r.db"
    outcome = run_plan(load_plan(plan_file(tmp_path, home, coord, sessions=4)), url, stream=stream)
    assert stream.killed.is_set()
    text = stream.getvalue()
    assert f"error: running session" in text
    with open_store(url, readonly=True) as store:
        sessions = store.sessions()
        status = collections.Counter((s.sut, s.status) for s in sessions)
        assert sum(n for (_, st), n in status.items() if st == "complete") == 4
        failed = [s for s in sessions if s.status == "failed"]
        assert [s.sut for s in failed] == [f"fastpath-lab@{PLACES[1]}"]
        later = [s for s in sessions if s.status == "complete" and s.started > failed[0].started
                 and s.sut == f"fastpath-lab@{PLACES[0]}"]
        assert later, "no session ran on the other SUT after the failure"
        samples = list(store.samples())
        keys = [(s.sut, s.session, s.repeat) for s in samples]
        assert len(keys) == len(set(keys))
        complete = {(s.sut, s.session) for s in sessions if s.status == "complete"}
        assert sum((s.sut, s.session) in complete for s in samples) == 4 * 3
        # the failed session keeps the samples it recorded before QEMU died
        assert len(samples) == 12 + sum((s.sut, s.session) == (failed[0].sut, failed[0].session)
                                        for s in samples)
    assert outcome.samples == len(samples)
