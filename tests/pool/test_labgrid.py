"""The labgrid pool against a real labgrid-coordinator and labgrid-exporter (started here as
processes by fastpath.lab.grid), exporting two places whose SSH ports lead nowhere: what is
tested is reserving, waiting, locking and releasing, not SSH (tests/pool/test_lab_pool.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from fastpath.errors import PoolError
from fastpath.lab import grid
from fastpath.plan.model import PoolSpec
from fastpath.pool.labgrid import LabgridPool
from fastpath.sut.transport import Connection

pytestmark = pytest.mark.pool

PLACES = [grid.place_name(0), grid.place_name(1)]
TAGS = tuple(grid.TAGS.items())


def client(address, *args, user=None, check=True):
    """The real labgrid-client, as ``user`` if given."""
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


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    g = grid.start([str(root / "no-vm-0"), str(root / "no-vm-1")], [1, 2], root / "grid")
    try:
        yield g.coordinator
    finally:
        grid.stop(root / "grid")
        assert grid.running(root / "grid") == {}


@pytest.fixture
def coord(coordinator):
    assert who(coordinator) == []
    yield coordinator
    assert who(coordinator) == [], "a test left a place locked"
    assert "Reservation" not in client(coordinator, "reservations"), "a reservation was left"


def pool(coord, count=2, wait=None, said=None):
    return LabgridPool(PoolSpec(coordinator=coord, tags=TAGS, count=count, wait=wait),
                       Connection(host="", keyfile="/keys/id"), say=(said.append if said is not None
                                                                    else lambda m: None),
                       show_every=1.0)


def test_reserve_locks_k_places_and_reads_ssh_and_power_from_their_resources(coord):
    with pool(coord) as p:
        leases = p.reserve(2)
        assert sorted(x.name for x in leases) == PLACES
        by = {x.name: x for x in leases}
        assert (by[PLACES[1]].connection.host, by[PLACES[1]].connection.port,
                by[PLACES[1]].connection.user, by[PLACES[1]].connection.keyfile) == \
            ("127.0.0.1", 2, "root", "/keys/id")
        assert by[PLACES[0]].power_cycle.endswith(f"-p {PLACES[0]} power cycle")
        assert len(who(coord)) == 2 and all(f"fastpath-{os.getpid()}" in w for w in who(coord))
        p.release(leases[0])
        assert len(who(coord)) == 1
    assert who(coord) == []


@pytest.mark.slow     # the dev tier: the deadline test waits for a held place too
def test_reservation_waits_while_another_client_holds_a_place(coord):
    client(coord, "-p", PLACES[0], "acquire", user="alice")
    said, got = [], {}
    p = pool(coord, said=said)
    waiter = threading.Thread(target=lambda: got.update(leases=p.reserve(2)))
    try:
        waiter.start()
        waiter.join(4)
        assert waiter.is_alive(), "reserve returned while alice held a place"
        assert any(f"{PLACES[0]} locked by" in s and "/alice" in s for s in said), said
        assert any("waiting for 2 places with board=fastpath_lab (1 allocated)" in s for s in said)
        client(coord, "-p", PLACES[0], "release", user="alice")
        waiter.join(30)
        assert not waiter.is_alive()
        assert sorted(x.name for x in got["leases"]) == PLACES
        assert any("got 2 places after" in s for s in said)
    finally:
        client(coord, "-p", PLACES[0], "release", user="alice", check=False)
        p.close()


def test_a_deadline_or_too_few_places_is_a_pool_error_naming_the_holders(coord):
    client(coord, "-p", PLACES[1], "acquire", user="bob")
    try:
        with pool(coord, wait=2) as p, pytest.raises(PoolError, match=rf"{PLACES[1]} locked by .*/bob"):
            p.reserve(2)
        with pool(coord) as p, pytest.raises(PoolError, match="2 places have the tags board=fastpath_lab, 3 needed"):
            p.reserve(3)
    finally:
        client(coord, "-p", PLACES[1], "release", user="bob")


HOLDER = """
import sys, time
from fastpath.plan.model import PoolSpec
from fastpath.pool import signals_interrupt
from fastpath.pool.labgrid import LabgridPool
from fastpath.sut.transport import Connection
with signals_interrupt(), LabgridPool(PoolSpec(coordinator=sys.argv[1], tags=(("board", "fastpath_lab"),),
                                      count=2), Connection(host="")) as pool:
    pool.reserve(int(sys.argv[2]))
    print("held", flush=True)
    time.sleep(600)
"""


def hold(coord, count):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, coord, str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held", proc.stderr.read()
    return proc


@pytest.mark.slow
def test_kill_9_leaves_the_locks_and_the_next_run_on_this_host_frees_them(coord):
    proc = hold(coord, 2)
    proc.kill()
    proc.wait(10)
    assert len(who(coord)) == 2                 # labgrid never expires a lock
    said = []
    with pool(coord, wait=30, said=said) as p:
        assert len(p.reserve(2)) == 2
    assert sum("left locked by" in s and f"fastpath-{proc.pid} (gone)" in s for s in said) == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow),
                                 pytest.param(signal.SIGHUP, marks=pytest.mark.slow)])
def test_ctrl_c_sigterm_sighup_release_the_locks(coord, sig):
    proc = hold(coord, 1)
    assert len(who(coord)) == 1
    proc.send_signal(sig)
    proc.wait(30)
    assert who(coord) == []


@pytest.mark.slow
def test_ctrl_c_while_waiting_cancels_the_reservations(coord):
    client(coord, "-p", PLACES[0], "acquire", user="alice")
    try:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, coord, "2"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            if "waiting for 2 places" in line:
                break
        assert "Reservation" in client(coord, "reservations")
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        assert "Reservation" not in client(coord, "reservations")
    finally:
        client(coord, "-p", PLACES[0], "release", user="alice")


@pytest.mark.slow
def test_a_higher_priority_reservation_is_served_first(coord):
    client(coord, "-p", PLACES[0], "acquire", user="alice")
    client(coord, "-p", PLACES[1], "acquire", user="bob")
    low = LabgridPool(PoolSpec(coordinator=coord, tags=TAGS, count=1), Connection(host=""),
                      say=lambda m: None)
    high = LabgridPool(PoolSpec(coordinator=coord, tags=TAGS, count=1, prio=10.0),
                       Connection(host=""), say=lambda m: None)
    got, order = {}, []

    def take(name, p):
        got[name] = p.reserve(1)
        order.append(name)
    threads = [threading.Thread(target=take, args=("low", low))]
    try:
        threads[0].start()
        threads[0].join(2)                       # low waits first
        threads.append(threading.Thread(target=take, args=("high", high)))
        threads[1].start()
        threads[1].join(2)
        client(coord, "-p", PLACES[0], "release", user="alice")
        threads[1].join(20)
        assert order == ["high"] and got["high"][0].name == PLACES[0]
        client(coord, "-p", PLACES[1], "release", user="bob")
        threads[0].join(20)
        assert order == ["high", "low"] and got["low"][0].name == PLACES[1]
    finally:
        for name in ("alice", "bob"):
            client(coord, "-p", PLACES[0 if name == "alice" else 1], "release", user=name,
                   check=False)
        high.close()
        low.close()


def test_an_unreachable_coordinator_is_one_pool_error():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PoolError, match=rf"^labgrid coordinator 127.0.0.1:{port}: Could not connect"):
        LabgridPool(PoolSpec(coordinator=f"127.0.0.1:{port}", tags=TAGS, count=1), Connection(host=""))
