"""The pool on the lab: two VMs exported by a real labgrid-coordinator and labgrid-exporter
(`fastpath.lab.pool.up_pool(2, labgrid=True)`, shared by every test of this module)."""

from __future__ import annotations

import collections
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from fastpath.errors import PoolError
from fastpath.execute import run_plan
from fastpath.lab import cache, grid, pool as lab_pool, vm
from fastpath.plan import load_plan
from fastpath.plan.model import PoolSpec
from fastpath.pool.labgrid import LabgridPool
from fastpath.store import open_store
from fastpath.sut.transport import Connection

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
        if not vm.status(h)["running"]:
            vm.power_cycle(h)
        vm.wait_for_ssh(vm.current(h), 300)
    address = state["labgrid"]["coordinator"]
    assert who(address) == []
    yield address
    assert who(address) == [], "a test left a place locked"


def client(address, *args, user=None, check=True):
    env = {**os.environ, "LG_COORDINATOR": address}
    if user:
        env["LG_USERNAME"] = user
    proc = subprocess.run([sys.executable, "-m", "labgrid.remote.client", *args], env=env,
                          capture_output=True, text=True, timeout=60)
    if check and proc.returncode:
        raise AssertionError(f"labgrid-client {args}: {proc.stderr}")
    return proc.stdout


def who(address) -> list[str]:
    """Lines of `labgrid-client who` naming a place (locks held now)."""
    return [ln for ln in client(address, "who").splitlines()[1:] if ln.strip()]


def plan_file(tmp_path, home, address, sessions=4, iterations=300000):
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


def test_reservation_waits_while_another_client_holds_a_place(lab, coord):
    client(coord, "-p", PLACES[0], "acquire", user="alice")
    said = []
    spec = PoolSpec(coordinator=coord, tags=tuple(grid.TAGS.items()), count=2)
    pool = LabgridPool(spec, Connection(host=""), say=said.append, show_every=1.0)
    got = {}
    waiter = threading.Thread(target=lambda: got.update(leases=pool.reserve(2)))
    try:
        waiter.start()
        waiter.join(4)
        assert waiter.is_alive(), "reserve returned while alice held a place"
        assert any(f"{PLACES[0]} locked by" in s and "/alice" in s for s in said), said
        client(coord, "-p", PLACES[0], "release", user="alice")
        waiter.join(30)
        assert not waiter.is_alive()
        leases = got["leases"]
        assert sorted(x.name for x in leases) == PLACES
        assert all(x.connection.host == "127.0.0.1" and x.connection.user == "root" for x in leases)
        assert all("power cycle" in x.power_cycle for x in leases)
        assert len(who(coord)) == 2
    finally:
        pool.close()
    assert who(coord) == []


HOLDER = """
import sys, time
from fastpath.plan.model import PoolSpec
from fastpath.pool.labgrid import LabgridPool
from fastpath.sut.transport import Connection
pool = LabgridPool(PoolSpec(coordinator=sys.argv[1], tags=(("board", "fastpath_lab"),), count=2),
                   Connection(host=""))
pool.reserve(2)
print("held", flush=True)
time.sleep(600)
"""


def test_kill_9_leaves_the_locks_and_the_next_run_frees_them(lab, coord):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, coord], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        proc.kill()
        proc.wait(10)
        assert len(who(coord)) == 2             # labgrid does not expire a lock
        said = []
        spec = PoolSpec(coordinator=coord, tags=tuple(grid.TAGS.items()), count=2, wait=30)
        with LabgridPool(spec, Connection(host=""), say=said.append) as pool:
            assert len(pool.reserve(2)) == 2
        assert sum("left locked by" in s and f"fastpath-{proc.pid}" in s for s in said) == 2
    finally:
        proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_in_plan_exec_releases_the_locks(lab, coord, tmp_path, sig):
    home, _ = lab
    path = plan_file(tmp_path, home, coord, sessions=20)
    proc = subprocess.Popen([sys.executable, "-m", "fastpath", "plan", "exec", "--output",
                             str(tmp_path / "out"), str(path)], stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if " on fastpath-lab-" in line and "fp/syscall" in line:
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
        samples = store.samples()
        keys = [(s.sut, s.session, s.repeat) for s in samples]
        assert len(keys) == len(set(keys))
        complete = {(s.sut, s.session) for s in sessions if s.status == "complete"}
        assert sum((s.sut, s.session) in complete for s in samples) == 4 * 3
        # the failed session keeps the samples it recorded before QEMU died
        assert len(samples) == 12 + sum((s.sut, s.session) == (failed[0].sut, failed[0].session)
                                        for s in samples)
    assert outcome.samples == len(samples)
