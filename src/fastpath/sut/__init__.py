"""The SUT: SSH transport (the one remote-command primitive), fingerprint, kernel deploy
and boot (kexec or one-shot GRUB), sysctl and bootscript, as a state machine.

    from fastpath.sut import Connection, Transport, SutMachine, fingerprint
"""

from fastpath.sut.fingerprint import Fingerprint, fingerprint
from fastpath.sut.machine import SutMachine
from fastpath.sut.transport import Connection, Result, Transport

__all__ = ["Connection", "Transport", "Result", "SutMachine", "Fingerprint", "fingerprint"]
