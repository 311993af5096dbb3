"""The SUT as a state machine (off, booting, shell, benchmarking, broken).

    m = SutMachine(plan.sut)            # state "off"
    m.transition(SHELL)                 # connect: SSH answers
    info = m.boot(swprofile)            # shell -> booting -> shell (or broken + KernelBootError)
    m.setup(swprofile)                  # sysctl, bootscript (needs shell)
    res = m.run_benchmark(argv, 600)    # shell -> benchmarking -> shell
    m.transition(SHELL)                 # from broken: reconnect, else power-cycle, else wait

A call made in the wrong state is refused with SutStableError naming the call and the state.
What ssh refuses for good (host key, login: SshRejectedError) fails at once, never waited out;
waiting for a reboot is reported through ``say`` (what it waits for, for how long).
A benchmark runs in its own process group on the SUT, killed when the run is interrupted.
A state is recorded only once the step that reaches it succeeded; "broken" sticks until
``recover()`` (or ``transition(SHELL)``) brings the SUT back.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess

from collections.abc import Callable

from fastpath.errors import SutStableError, SutTransientError
from fastpath.sut import deploy
from fastpath.sut.fingerprint import Fingerprint, fingerprint
from fastpath.sut.transport import Result, Transport

log = logging.getLogger("fastpath.sut")

OFF, BOOTING, SHELL, BENCHMARKING, BROKEN = "off", "booting", "shell", "benchmarking", "broken"


@dataclasses.dataclass(frozen=True)
class BootInfo:
    boot_id: str
    kernel_release: str
    kernel_version: str


class SutMachine:
    def __init__(self, spec, transport: Transport | None = None,
                 say: Callable[[str], None] | None = None):
        self.spec = spec                     # plan.model.SutSpec
        self.t = transport or Transport(spec.connection)
        if say is not None:
            self.t.say = say                 # progress lines while waiting for the SUT
        self.state = OFF
        self._base_cmdline: str | None = None

    # -- state handling ----------------------------------------------------------------
    def require(self, call: str, *states: str) -> None:
        if self.state not in states:
            raise SutStableError(f"{call} refused: the SUT {self.spec.name} is {self.state}, "
                                 f"not {' or '.join(states)}")

    def transition(self, target: str) -> None:
        """Walk to ``target`` (only SHELL is reachable on demand)."""
        if target != SHELL:
            raise SutStableError(f"transition to {target} is not a step one can ask for")
        if self.state == SHELL:
            return
        if self.state == BROKEN:
            self.recover()
        else:     # the SUT should be up: a refused port is final, not a reboot to wait out
            self.t.wait_for(self.spec.boot_timeout, up=True)
            self.state = SHELL

    def recover(self) -> None:
        """broken -> shell: SSH answers again, else the power-cycle hook, else the SUT's own
        fallback to its default kernel. Stays broken and raises SutError when all fail."""
        self.t.reset()
        if self.t.reachable():
            self.state = SHELL
            return
        if self.spec.power_cycle:
            log.warning("power-cycling %s: %s", self.spec.name, self.spec.power_cycle)
            proc = subprocess.run(self.spec.power_cycle, shell=True, capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
                raise SutStableError(f"power-cycle hook '{self.spec.power_cycle}' failed "
                                     f"with status {proc.returncode}: {tail[0]}")
        after = "the power-cycle" if self.spec.power_cycle else "falling back to its own kernel"
        try:
            self.t.wait_for(self.spec.boot_timeout,
                            what=f"{self.t.conn.label} to answer SSH after {after}")
        except SutTransientError as err:
            last = f" (last: {self.t.last_failure})" if self.t.last_failure else ""
            raise SutTransientError(f"SUT {self.spec.name} did not answer SSH within "
                                    f"{self.spec.boot_timeout:g} s after recovery{last}") from err
        self.state = SHELL

    # -- calls -------------------------------------------------------------------------
    def fingerprint(self) -> Fingerprint:
        self.require("fingerprint", SHELL)
        return self._guard(lambda: fingerprint(self.t))

    def boot(self, swp) -> BootInfo | None:
        """Boot a fresh session of swprofile ``swp`` (plan.model.SwProfileSpec).

        Without a kernel the running kernel is used as it is (no reboot)."""
        self.require("boot", SHELL)
        if swp.kernel is None:
            return None
        self.state = BOOTING
        try:
            if self._base_cmdline is None:
                self._base_cmdline = deploy.base_cmdline(self.t)
            old = deploy.boot_id(self.t)
            remote = deploy.install(self.t, swp.name, swp.kernel, swp.modules)
            cmdline = " ".join([self._base_cmdline, *swp.cmdline]).strip()
            if self.spec.boot_method == "grub":
                deploy.boot_grub(self.t, remote, swp.name, cmdline)
            else:
                deploy.boot_kexec(self.t, remote, cmdline)
            self.t.reset()
            new = deploy.wait_reboot(self.t, old, self.spec.boot_timeout,
                                     what=f"{self.t.conn.label} to boot {swp.name} "
                                          f"({self.spec.boot_method})")
            release, version = deploy.verify(self.t, swp.kernel)
        except BaseException:     # SutError, or Ctrl-C mid-boot: who knows what runs now
            self.state = BROKEN
            raise
        self.state = SHELL
        return BootInfo(new, release, version)

    def setup(self, swp) -> None:
        """Apply sysctl settings and run bootscript lines (each a quoted `sh -c` argument)."""
        self.require("setup", SHELL)
        for line in swp.sysctl:
            key, _, value = line.partition("=")
            path = "/proc/sys/" + key.strip().replace(".", "/")
            self._guard(lambda: self.t.run_checked(
                ["sh", "-c", 'printf "%s\\n" "$2" > "$1"', "fastpath", path, value.strip()]))
        for line in swp.bootscript:
            self._guard(lambda: self.t.run_checked(["sh", "-c", line], timeout=600))

    def check(self, argv) -> bool:
        """True when a benchmark's presence check succeeds."""
        self.require("check", SHELL)
        return self._guard(lambda: self.t.run(list(argv), timeout=60)).ok

    def run_benchmark(self, argv, timeout: float) -> Result:
        """Run one benchmark command; returns its Result (status may be non-zero)."""
        self.require("run_benchmark", SHELL)
        self.state = BENCHMARKING
        res = self._guard(lambda: self.t.run_stoppable(list(argv), timeout=timeout))
        self.state = SHELL
        return res

    def close(self) -> None:
        self.t.close()
        self.state = OFF

    def _guard(self, fn):
        """Run fn; a transient SSH failure leaves the SUT broken (until recovered)."""
        try:
            return fn()
        except SutTransientError:
            self.state = BROKEN
            raise

