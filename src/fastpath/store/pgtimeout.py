"""A read timeout for psycopg 3, which has none: a PostgreSQL server (or a link) that sends
nothing for ``read_timeout`` seconds while a query waits fails it with OperationalError,
instead of hanging for ever. TCP keepalives cannot see a stalled middlebox (its kernel
still acknowledges every byte), so the wait itself is timed.

psycopg waits for its socket in ``Connection.wait(gen)``, waking every ``interval`` seconds
with no event (``Ready.NONE``) to let Ctrl-C through; ``TimedConnection`` counts those idle
wake-ups and gives up after ``read_timeout`` seconds of them."""

from __future__ import annotations

import time

import psycopg


class TimedConnection(psycopg.Connection):
    read_timeout: float | None = None

    @classmethod
    def connect_timed(cls, read_timeout: float, *args, **kwargs) -> "TimedConnection":
        conn = cls.connect(*args, **kwargs)
        conn.read_timeout = read_timeout
        return conn

    def wait(self, gen, interval: float = 0.1):
        if self.read_timeout:
            gen = self._timed(gen, self.read_timeout)
        return super().wait(gen, interval=interval)

    def _timed(self, gen, limit: float):
        last = time.monotonic()
        try:
            state = next(gen)
            while True:
                ready = yield state
                now = time.monotonic()
                if ready:
                    last = now
                elif now - last > limit:
                    self.pgconn.finish()        # the protocol is mid-message: unusable
                    raise psycopg.OperationalError(
                        f"timed out: no answer from the server for {limit:g} s "
                        f"(read_timeout in the store URL)")
                state = gen.send(ready)
        except StopIteration as done:
            return done.value
