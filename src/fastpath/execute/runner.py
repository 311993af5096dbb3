"""Run sessions of swprofiles on a SUT and write every sample to a store as it is parsed.

    with Runner(plan, store) as runner:           # connects, fingerprints, stores the SUT
        outcome = runner.run_swprofile(swp)        # boots sessions, returns SwProfileOutcome
        outcome = runner.run_swprofile(swp, sessions=1, benchmarks=["sysbench/thread"])

A session is one fresh boot. Once booted, its row and index are allocated by the store
(``new_session``: after every session and sample of (sut, swprofile) already there,
atomically), so neither a resumed call nor a concurrent run reuses an index: a sample is
never written twice and none is lost. Failures are data: they become ErrorRecords and the
run goes on; a kernel that does not boot ends that swprofile (after the SUT is recovered).
A session counts as done (``done_sessions``) when it is complete and recorded no error, so a
resumed run redoes the sessions in which a benchmark failed; the error of a boot that failed is
no session's (it names the index the next session then gets). What ssh refuses for good (host
key, login) stops the run at once.
"""

from __future__ import annotations

import dataclasses
import datetime

from fastpath.benchmarks.parsers import ParseError
from fastpath.errors import KernelBootError, SshRejectedError, SutError, SutTransientError, UserError
from fastpath.execute.progress import Progress
from fastpath.store.model import (Benchmark, ErrorRecord, ResultClass, Sample, Session,
                                  SwProfile)
from fastpath.sut.fingerprint import mismatches
from fastpath.sut.machine import BROKEN, SHELL, SutMachine

MAX_OUTPUT = 20000


# Stages of an error recorded outside any session row: a build, a deploy or a boot that failed
# (and the recovery after it) names the index the next session would likely get, which the store
# then gives to the next session that boots (new_session); such an error is not that session's.
OUTSIDE_SESSION = frozenset({"build", "deploy", "boot", "recover"})


def done_sessions(store, sut_id: str, swp_name: str) -> int:
    """Sessions of (sut, swprofile) that count as done: complete, and no error recorded in them
    (a benchmark that failed there, or was missing, is measured again by a resumed run). An
    error of a boot that failed (OUTSIDE_SESSION) is no session's: the session that later got
    its index is done when it completed."""
    erred = {e.session for e in store.errors()
             if e.sut == sut_id and e.swprofile == swp_name and e.stage not in OUTSIDE_SESSION}
    return sum(1 for s in store.sessions(sut_id, swp_name)
               if s.status == "complete" and s.session not in erred)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@dataclasses.dataclass
class SwProfileOutcome:
    swprofile: str
    samples: list = dataclasses.field(default_factory=list)     # Samples written by this call
    errors: list = dataclasses.field(default_factory=list)      # ErrorRecords written
    sessions: list = dataclasses.field(default_factory=list)    # session indexes completed
    boot_failed: bool = False
    benchmarks: list = dataclasses.field(default_factory=list)  # benchmark ids this call ran

    def unmeasured(self) -> list[tuple[str, str]]:
        """(benchmark id or "", first error line) for each benchmark this call ran that gave
        no sample, and ("", boot error) when a kernel that did not boot left it no sample."""
        sampled = {s.benchmark for s in self.samples}
        out = [(b, next((e.message for e in self.errors if e.benchmark == b), "no sample"))
               for b in self.benchmarks if b not in sampled]
        if self.boot_failed and not self.samples:
            out.append(("", next((e.message for e in self.errors), "the kernel did not boot")))
        return out

    @property
    def ok(self) -> bool:
        return not self.boot_failed and bool(self.sessions)


class Runner:
    def __init__(self, plan, store, progress: Progress | None = None,
                 machine: SutMachine | None = None, recover: bool = True):
        if plan.sut.pool is not None:
            raise UserError(f"SUT {plan.sut.name} is a pool: run the plan with run_plan "
                            f"(plan exec), which gives each SUT of the pool its own Runner")
        self.plan, self.store = plan, store
        self.progress = progress or Progress(None, enabled=False)
        self.machine = machine or SutMachine(plan.sut, say=self.progress.note)
        self.sut_id = plan.sut.name
        self._current = ""                   # benchmark running now (for error records)
        self._started = False
        self._recover_in_session = recover   # False: a failed session leaves the SUT broken
        self._closed: set[str] = set()       # swprofiles whose stale sessions were closed

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self.machine.transition(SHELL)
        self._put_sut(self.machine.fingerprint().sut(self.sut_id))
        for b in self.plan.benchmarks:
            self.store.put_benchmark(Benchmark(b.id, b.suite, b.name, dict(b.params)))
            for rc in b.resultclasses:
                self.store.put_resultclass(ResultClass(b.id, rc.name, rc.unit, rc.improvement))
        self._started = True

    def _put_sut(self, sut) -> None:
        """Store the SUT, or check it is the one already stored (sut.fingerprint.mismatches)."""
        stored = next((s for s in self.store.suts() if s.id == sut.id), None)
        if stored is None:
            self.store.put_sut(sut)
            return
        differ = mismatches(stored, sut)
        if differ:
            key, was, now = differ[0]
            raise UserError(f"SUT '{sut.id}' in {self.store.url} has {key} {was!r} but the machine now "
                            f"has {now!r}; give this machine another sut name")

    def close(self) -> None:
        self.machine.close()

    def __enter__(self) -> "Runner":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sessions ----------------------------------------------------------------------
    def completed(self, swp_name: str) -> int:
        return done_sessions(self.store, self.sut_id, swp_name)

    def run_swprofile(self, swp, sessions: int | None = None,
                      benchmarks: list[str] | None = None) -> SwProfileOutcome:
        """Boot ``sessions`` new complete sessions of swp (default: what the plan still
        lacks for it) and run the plan's benchmarks (or those ids) in each."""
        self.start()
        self._close_stale(swp.name)
        done = self.completed(swp.name)
        wanted = sessions if sessions is not None else max(0, self.plan.sessions - done)
        benches = [b for b in self.plan.benchmarks if benchmarks is None or b.id in benchmarks]
        out = SwProfileOutcome(swp.name)
        if swp.kernel is None and wanted + done > 1:
            self.progress.note(
                f"note: swprofile {swp.name} has no kernel: its sessions run in the running "
                "kernel without a reboot (one boot id), so they are not independent boots; "
                "result show counts them as one boot")
        failures, ordinal = 0, done
        while len(out.sessions) < wanted and failures <= wanted + 1:
            index = self._session(swp, self._next_index(swp.name), ordinal if sessions is None else 0,
                                  benches, out)
            if out.boot_failed:
                break
            if index is not None:
                out.sessions.append(index)
                ordinal += 1
            else:
                failures += 1
                self.progress.grow(self.plan.samples_per_session(ordinal))
        return out

    def run_session(self, swp, ordinal: int) -> SwProfileOutcome:
        """One new session of swp at the index the store allocates, run as its ``ordinal``-th
        session (which decides the benchmarks, as in run_swprofile). Used by the pool's workers."""
        self.start()
        if swp.name not in self._closed:
            self._close_stale(swp.name)
            self._closed.add(swp.name)
        out = SwProfileOutcome(swp.name)
        index = self._session(swp, self._next_index(swp.name), ordinal, list(self.plan.benchmarks),
                              out)
        if index is not None:             # the index the store allocated (0 is one)
            out.sessions.append(index)
        return out

    def _next_index(self, swp_name: str) -> int:
        """The index a session will likely get (shown, and named in a boot failure's error
        record); the store allocates the real one after the boot."""
        return max((s.session for s in self.store.sessions(self.sut_id, swp_name)), default=-1) + 1

    def _close_stale(self, swp_name: str) -> None:
        """Sessions left "running" by an interrupted run are failed; their samples stay."""
        for s in self.store.sessions(self.sut_id, swp_name):
            if s.status == "running":
                self.store.put_session(dataclasses.replace(s, status="failed",
                                                           finished=s.finished or now()))

    def _session(self, swp, index: int, ordinal: int, benches, out) -> int | None:
        """One boot of swp (``index`` as expected so far); its index when it completed."""
        self.progress.at(swp.name, str(index))
        self._current = ""
        session = Session(self.sut_id, swp.name, index, "running", started=now())
        row = None                   # the session's row in the store, once it has one
        try:
            info = self.machine.boot(swp)
            fp = self.machine.fingerprint()
            self.store.put_swprofile(SwProfile(swp.name, fp.sw["kernel_name"], swp.kernel_git_sha,
                                               fp.sw["userspace"], swp.cmdline, swp.sysctl,
                                               swp.bootscript))
            session = row = self.store.new_session(dataclasses.replace(
                session, boot_id=info.boot_id if info else fp.boot_id,
                kernel_release=fp.sw["kernel_name"]))
            index = row.session
            self.machine.setup(swp)
            for b in benches:
                if ordinal < b.sessions or ordinal >= self.plan.sessions:
                    self._benchmark(swp, index, b, out)
        except SshRejectedError as err:     # host key, login: nothing will work, say it now
            self._fail(swp, index, "benchmark" if row is not None else "boot", str(err), out, row,
                       bench=self._current if row is not None else "")
            raise
        except KernelBootError as err:
            self._fail(swp, index, "boot", str(err), out, row)
            out.boot_failed = True
            self._recover(swp, index, out)
            return None
        except SutTransientError as err:
            self._fail(swp, index, "benchmark" if row is not None else "boot", str(err), out, row,
                       bench=self._current if row is not None else "")
            self._recover(swp, index, out)
            return None
        except SutError as err:      # deterministic: deploying (before a boot) or setup after it
            self._fail(swp, index, "setup" if row is not None else "boot", str(err), out, row,
                       getattr(err, "stdout", ""))
            out.boot_failed = True
            if self.machine.state == BROKEN:     # e.g. kexec refused the image: the SUT still answers
                self._recover(swp, index, out)
            return None
        except BaseException:        # Ctrl-C: keep what we have, mark the session failed
            if row is not None:
                self.store.put_session(dataclasses.replace(row, status="failed", finished=now()))
            raise
        self.store.put_session(dataclasses.replace(session, status="complete", finished=now()))
        return index

    def _benchmark(self, swp, index: int, b, out) -> None:
        self._current = b.id
        if b.id not in out.benchmarks:
            out.benchmarks.append(b.id)
        self.progress.at(swp.name, str(index), b.id)
        if b.check and not self.machine.check(b.check):     # each session: its error is its data
            self._fail(swp, index, "benchmark", f"{b.id} is not installed on the SUT "
                       f"(check failed: {' '.join(b.check)})", out, bench=b.id)
            return
        for run in range(b.warmups + b.repeats):
            res = self.machine.run_benchmark(b.command, b.timeout)
            if not res.ok:
                self._fail(swp, index, "benchmark", f"{b.id} exited with status {res.status}",
                           out, bench=b.id, output=res.stdout + res.stderr)
                return
            try:
                values = b.parse(res.stdout)
            except ParseError as err:
                self._fail(swp, index, "parse", f"{b.id}: {err}", out, bench=b.id,
                           output=res.stdout + res.stderr)
                return
            if run < b.warmups:
                continue
            for rc, value in values.items():
                sample = Sample(self.sut_id, swp.name, b.id, rc, index, run - b.warmups,
                                float(value), now())
                self.store.append_sample(sample)
                out.samples.append(sample)
                self.progress.add()

    def _fail(self, swp, index, stage, message, out, session=None, output="", bench=""):
        err = ErrorRecord(self.sut_id, swp.name, stage, message.splitlines()[0] if message
                          else stage, bench, index, (output or "")[-MAX_OUTPUT:], now())
        self.store.record_error(err)
        out.errors.append(err)
        self.progress.note(f"error: {swp.name} session {index} {stage}: {err.message}")
        if session is not None:      # the session's row: the failure ends it
            self.store.put_session(dataclasses.replace(session, status="failed", finished=now()))

    def _recover(self, swp, index, out) -> None:
        """Bring the SUT back to a shell; if that fails the run cannot go on (re-raised)."""
        if not self._recover_in_session:
            return
        try:
            self.machine.recover()
        except SutError as err:
            self._fail(swp, index, "recover", str(err), out)
            raise
