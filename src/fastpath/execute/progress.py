"""Progress on stderr: swprofile, session, benchmark, samples done/left, elapsed, ETA.

On a terminal one line is redrawn in place; otherwise a line is printed per benchmark run.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}"


class Progress:
    """``total`` samples planned, or None when open-ended (a sequential test decides when to stop)."""

    def __init__(self, total: int | None, stream=None, enabled: bool = True):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self.where = ""

    def at(self, swprofile: str, session: str, benchmark: str = "") -> None:
        self.where = f"{swprofile} | session {session}" + (f" | {benchmark}" if benchmark else "")
        self._show(final=not self.tty)

    def add(self, n: int = 1) -> None:
        self.done += n
        if self.tty:
            self._show()

    def grow(self, n: int) -> None:
        """More samples than planned are needed (a failed session is redone)."""
        if self.total is not None:
            self.total += n

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        if self.total is None:
            return f"[{self.where} | samples {self.done} | elapsed {_clock(elapsed)}]"
        left = max(0, self.total - self.done)
        eta = _clock(elapsed / self.done * left) if self.done else "?"
        return (f"[{self.where} | samples {self.done}/{self.total}, {left} left | "
                f"elapsed {_clock(elapsed)} | ETA {eta}]")

    def note(self, message: str) -> None:
        if self.enabled:
            self._clear()
            print(message, file=self.stream, flush=True)

    def finish(self) -> None:
        if self.enabled:
            self._clear()
            print(f"done: {self.done} samples in {_clock(time.monotonic() - self.start)}",
                  file=self.stream, flush=True)

    def _show(self, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            print("\r\033[K" + self.line(), end="", file=self.stream, flush=True)
        elif final:
            print(self.line(), file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.tty:
            print("\r\033[K", end="", file=self.stream, flush=True)
