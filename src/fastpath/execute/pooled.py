"""Run a plan over a pool of identical SUTs: one worker thread per SUT pulls sessions.

    outcome = run_plan_pooled(plan, store)          # plan.sut.pool names the pool

The sessions a plan still lacks, (swprofile, ordinal) pairs interleaved across swprofiles,
go on one queue. Each worker has its own Runner on its SUT (store id ``<sut>@<member>``),
boots one session at a time and writes every sample as it is parsed. A session that fails
transiently goes back on the queue at once (another SUT takes it), then its SUT is recovered
(reconnect, the pool's power-cycle hook, or waiting); a SUT that cannot be recovered is
released and its worker ends; the samples it recorded stay. A kernel that does not boot ends
its swprofile, as on one SUT. The run ends when every session is done (SUTs still being
recovered are then released), or with PoolError when no SUT is left.
"""

from __future__ import annotations

import collections
import threading

from fastpath.errors import PoolError, SutError
from fastpath.execute.progress import Progress
from fastpath.execute.runner import Runner, SwProfileOutcome, done_sessions
from fastpath.pool import open_pool, pool_size, signals_interrupt
from fastpath.pool.identical import check_identical
from fastpath.sut.machine import BROKEN, SHELL, SutMachine

MAX_ATTEMPTS = 3                 # boots of one (swprofile, ordinal) that fail transiently


class LockedStore:
    """A store shared by the workers: every call holds one lock."""

    def __init__(self, store):
        self._store, self._lock = store, threading.RLock()

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with self._lock:
                return attr(*args, **kwargs)
        return call


class WorkerProgress:
    """One worker's view of the shared progress line: the session names its SUT."""

    def __init__(self, bar: Progress, sut: str, lock: threading.Lock):
        self.bar, self.sut, self.lock = bar, sut, lock

    def at(self, swprofile, session, benchmark=""):
        with self.lock:
            self.bar.at(swprofile, f"{session} on {self.sut}", benchmark)

    def add(self, n=1):
        with self.lock:
            self.bar.add(n)

    def grow(self, n):
        with self.lock:
            self.bar.grow(n)

    def note(self, message):
        with self.lock:
            self.bar.note(message)


def pool_sut_ids(plan, store) -> list[str]:
    """SUT ids in the store that belong to this plan's pool: ``<name>@<member>``."""
    return [s.id for s in store.suts() if s.id.startswith(plan.sut.name + "@")]


def completed(plan, store, swp_name: str) -> int:
    """Sessions of swp done on any SUT of the pool (runner.done_sessions: complete, no error)."""
    return sum(done_sessions(store, sut, swp_name) for sut in pool_sut_ids(plan, store))


def connect_identical(sut, leases, pool, note, check=None) -> dict:
    """{lease: a SutMachine in SHELL} for each lease of ``pool`` that answers (those that do
    not are released, saying so through ``note``); PoolError when none does; the SUTs'
    fingerprints identical or UserError naming the field (pool.identical); then
    ``check({name: Fingerprint})``, if given, may refuse them too (its error raised)."""
    machines, fps = {}, {}
    for lease in leases:
        machine = SutMachine(lease.sut_spec(sut))
        try:
            machine.transition(SHELL)
            fps[lease.name] = machine.fingerprint()
            machines[lease] = machine
        except SutError as err:
            note(f"pool: {lease.name} does not answer ({err}); released")
            machine.close()
            pool.release(lease)
    if not machines:
        raise PoolError(f"no SUT of the pool of {sut.name} answers")
    try:
        check_identical(fps)
        if check is not None:
            check(fps)
    except BaseException:
        for machine in machines.values():
            machine.close()
        raise
    return machines


def run_plan_pooled(plan, store, bar: Progress, pool=None):
    """Run the plan's missing sessions over its pool; returns [SwProfileOutcome]."""
    own = pool is None
    pool = pool or open_pool(plan.sut, say=bar.note)
    try:
        with signals_interrupt():
            leases = pool.reserve(pool_size(plan.sut))
            return _Run(plan, LockedStore(store), bar, pool, leases).run()
    finally:
        if own:
            pool.close()


class _Run:
    def __init__(self, plan, store, bar, pool, leases):
        self.plan, self.store, self.bar, self.pool = plan, store, bar, pool
        self.lock = threading.Lock()             # progress output
        self.cond = threading.Condition()
        self.outcomes = {swp.name: SwProfileOutcome(swp.name) for swp in plan.swprofiles}
        self.pending: collections.deque = collections.deque()
        self.in_flight = 0
        self.live = 0
        self.stop = threading.Event()
        self.fatal: BaseException | None = None  # not the SUT's fault (store, bug): ends the run
        self._closed: set = set()
        self.runners = self._connect(leases)

    def _connect(self, leases) -> dict:
        """A SHELL machine per lease that answers (connect_identical); a Runner on each."""
        machines = connect_identical(self.plan.sut, leases, self.pool, self.bar.note)
        runners = {lease: Runner(self.plan.with_sut(lease.sut_spec(self.plan.sut)), self.store,
                                 progress=WorkerProgress(self.bar, lease.name, self.lock),
                                 machine=m, recover=False) for lease, m in machines.items()}
        try:
            for runner in runners.values():    # stores each SUT; a store conflict stops here
                runner.start()
        except BaseException:
            for runner in runners.values():
                runner.close()
            raise
        return runners

    def run(self) -> list[SwProfileOutcome]:
        done = {swp.name: completed(self.plan, self.store, swp.name) for swp in self.plan.swprofiles}
        for ordinal in range(self.plan.sessions):
            for swp in self.plan.swprofiles:
                if ordinal >= done[swp.name]:
                    self.pending.append((swp, ordinal, 0))
        threads = [threading.Thread(target=self._worker, args=(lease, runner), daemon=True,
                                    name=f"pool-{lease.name}")
                   for lease, runner in self.runners.items()]
        self.live = len(threads)
        for t in threads:
            t.start()
        try:
            with self.cond:
                while (self.pending or self.in_flight) and self.live and not self.fatal:
                    self.cond.wait(0.5)
                left = len(self.pending) + self.in_flight
        except BaseException:           # Ctrl-C, SIGTERM: cut the SSH links, so each worker
            self.stop.set()             # records its session as failed and stops
            self._close_runners()
            for t in threads:
                t.join(10)
            raise
        finally:
            self.stop.set()
            for t in threads:               # idle workers end now (and release their SUT);
                t.join(5)                   # one still recovering its SUT is left behind
            self._close_runners()
        if self.fatal is not None:
            raise self.fatal
        if left:
            raise PoolError(f"every SUT of the pool is gone; {left} sessions were not run "
                            f"(the samples recorded so far are in the store)")
        return list(self.outcomes.values())

    def _close_runners(self) -> None:
        """Close every SUT connection once (closing cuts the commands still running)."""
        for lease in list(self.runners):
            if lease not in self._closed:
                self._closed.add(lease)
                self.runners[lease].close()

    def _take(self):
        with self.cond:
            while not self.pending and self.in_flight and not self.stop.is_set():
                self.cond.wait(0.5)
            if self.stop.is_set() or not self.pending:
                return None
            self.in_flight += 1
            return self.pending.popleft()

    def _finish(self, requeue=None) -> None:
        with self.cond:
            self.in_flight -= 1
            if requeue is not None:
                self.pending.appendleft(requeue)
            self.cond.notify_all()

    def _worker(self, lease, runner) -> None:
        try:
            while not self.stop.is_set():
                job = self._take()
                if job is None:
                    return
                swp, ordinal, attempts = job
                requeue = None
                try:
                    out = runner.run_session(swp, ordinal)
                except BaseException:           # the store, a SUT refusing to start, a bug
                    self._finish(job if attempts + 1 < MAX_ATTEMPTS else None)
                    raise
                self._merge(out)
                if out.boot_failed:
                    self._drop_swprofile(swp.name)
                elif not out.sessions and not self.stop.is_set():
                    requeue = (swp, ordinal, attempts + 1) if attempts + 1 < MAX_ATTEMPTS else None
                    if requeue is None:
                        self._note(f"pool: {swp.name} session {ordinal} failed {MAX_ATTEMPTS} times; "
                                   f"given up")
                self._finish(requeue)
                if runner.machine.state == BROKEN and not self.stop.is_set():
                    runner.machine.recover()
        except SutError as err:
            if not self.stop.is_set():
                self._note(f"pool: {lease.name} is lost ({err}); released, its sessions go to "
                           f"the other SUTs")
        except BaseException as err:
            if not self.stop.is_set():
                self.fatal = err
                self.stop.set()
        finally:
            self.pool.release(lease)
            with self.cond:
                self.live -= 1
                self.cond.notify_all()

    def _merge(self, out: SwProfileOutcome) -> None:
        with self.cond:
            total = self.outcomes[out.swprofile]
            total.samples.extend(out.samples)
            total.errors.extend(out.errors)
            total.sessions.extend(out.sessions)
            total.benchmarks.extend(b for b in out.benchmarks if b not in total.benchmarks)
            total.boot_failed = total.boot_failed or out.boot_failed

    def _drop_swprofile(self, name: str) -> None:
        with self.cond:
            self.pending = collections.deque(j for j in self.pending if j[0].name != name)

    def _note(self, message: str) -> None:
        with self.lock:
            self.bar.note(message)
