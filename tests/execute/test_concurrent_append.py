"""Two runs appending to one store at once (`plan exec --append` twice): no sample is lost.

Both runs talk to the real loopback sshd and write to real stores; the only fault injected is
the interleaving: FakeBarrierMachine holds each boot until the other run has booted too, so
both runs are always between "pick a session index" and "write the session" at once (the
window in which the fault probe's two real runs collided)."""

from __future__ import annotations

import collections
import threading

import pytest

from fastpath.execute import Runner
from fastpath.plan import load_plan
from fastpath.store import open_store
from fastpath.sut.machine import SutMachine
from tests.execute.conftest import CPU, sshd_plan
from tests.fixtures.stores import make_store_url

BACKENDS = ["csv", "sqlite", pytest.param("mysql", marks=pytest.mark.db),
            pytest.param("postgresql", marks=pytest.mark.db)]


class FakeBarrierMachine(SutMachine):
    def __init__(self, spec, barrier: threading.Barrier):
        super().__init__(spec)
        self.barrier = barrier

    def boot(self, swp):
        info = super().boot(swp)
        self.barrier.wait(timeout=60)
        return info


@pytest.mark.parametrize("kind", BACKENDS)
def test_two_concurrent_appends_keep_every_sample(kind, tmp_path, sshd, fresh_db_url):
    plan = load_plan(sshd_plan(tmp_path, sshd, CPU, sessions=2))
    url = make_store_url(kind, tmp_path, fresh_db_url)
    barrier = threading.Barrier(2)
    shared = open_store(url) if kind == "csv" else None    # CSV: one writer process per store
    outcomes, failures = [], []

    def run():
        try:
            store = shared or open_store(url)
            try:
                with Runner(plan, store, machine=FakeBarrierMachine(plan.sut, barrier)) as runner:
                    outcomes.append(runner.run_swprofile(plan.swprofiles[0]))
            finally:
                if store is not shared:
                    store.close()
        except BaseException as err:          # noqa: BLE001 - reported below
            failures.append(err)
            barrier.abort()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if shared:
        shared.close()
    assert not failures, failures
    assert sorted(len(o.samples) for o in outcomes) == [6, 6]        # each run: 2 sessions x 3
    with open_store(url, readonly=True) as store:
        ids = collections.Counter((s.session, s.repeat) for s in store.samples())
        sessions = sorted((s.session, s.status) for s in store.sessions())
    assert sum(ids.values()) == 12 and set(ids.values()) == {1}
    assert sessions == [(i, "complete") for i in range(4)]
    assert sorted(i for o in outcomes for i in o.sessions) == [0, 1, 2, 3]
