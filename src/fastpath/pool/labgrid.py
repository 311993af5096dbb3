"""A pool of labgrid places: reservations and locks through a real labgrid-coordinator.

    pool = LabgridPool(spec, base_connection)   # spec: PoolSpec(coordinator, tags, count)
    leases = pool.reserve(2)                      # 2 reservations, waited for, then 2 locks
    pool.release(leases[0]); pool.close()         # unlock + cancel; close releases the rest

labgrid's own client library (``labgrid.remote.client.ClientSession``) talks gRPC to the
coordinator; its asyncio loop runs in a thread of its own, so the plan's worker threads can
block on SSH meanwhile. A reservation takes one place with the plan's tags; k SUTs are k
reservations, all waited for before any is locked. Each place must export a NetworkService
(address, username, port): that is the SSH connection. A power resource of the place
(e.g. NetworkPowerPort) becomes the power-cycle hook ``labgrid-client ... power cycle``.

The locks carry this process in their user name (``USER:fastpath-PID``, host as usual), so:
exit, an exception, Ctrl-C, SIGTERM and SIGHUP release them (``close`` in a finally);
after ``kill -9`` labgrid keeps the places acquired (its locks never expire; an unpolled
waiting or allocated reservation expires after 60 s), and the next fastpath run on the same
host releases places and reservations left by fastpath processes of this host that are gone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import os
import re
import shlex
import socket
import sys
import threading
import time

from fastpath.errors import PoolError
from fastpath.pool.base import Lease, Pool

OWNER = re.compile(r"^(?P<host>[^/]*)/(?P<user>.*):fastpath-(?P<pid>\d+)$")
POWER_CLASSES = ("NetworkPowerPort", "PDUDaemonPort", "NetworkUSBPowerPort", "TasmotaPowerPort",
                 "NetworkSiSPMPowerPort", "NetworkYKUSHPowerPort")


def _labgrid():
    try:
        import grpc
        from labgrid.remote.client import ClientSession
        from labgrid.remote.common import ReservationState
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2
        from labgrid.util.proxy import proxymanager
    except ImportError:
        raise PoolError("a labgrid pool needs labgrid: pip install 'fastpath[pool]'") from None
    return grpc, ClientSession, ReservationState, pb2, proxymanager


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LabgridPool(Pool):
    def __init__(self, spec, base, say=None, poll: float = 1.0, show_every: float = 10.0):
        super().__init__(say)
        self.spec, self.base, self.poll, self.show_every = spec, base, poll, show_every
        self.grpc, self._Session, self._State, self.pb2, proxy = _labgrid()
        self.address = proxy.get_grpc_address(spec.coordinator, default_port=20408)
        self.hostname = socket.gethostname()
        self.username = f"{getpass.getuser()}:fastpath-{os.getpid()}"
        self.tokens: dict[str, str] = {}          # place -> reservation token
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="labgrid-client",
                                        daemon=True)
        self._thread.start()
        self.session = None
        try:
            self.session = self._call(self._connect(), timeout=30)
        except BaseException:
            self._stop_loop()
            raise

    # -- plumbing ------------------------------------------------------------------------
    def _call(self, coro, timeout: float | None = 60):
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise PoolError(f"labgrid coordinator {self.spec.coordinator}: no answer in "
                            f"{timeout:g} s") from None
        except self.grpc.aio.AioRpcError as err:
            raise PoolError(f"labgrid coordinator {self.spec.coordinator}: {err.details()}") from None
        except Exception as err:
            if type(err).__module__.startswith("labgrid"):     # its Error's str adds "Error: "
                text = " ".join(map(str, err.args)) or type(err).__name__
                raise PoolError(f"labgrid coordinator {self.spec.coordinator}: {text}") from None
            raise

    async def _connect(self):
        session = self._Session(self.address, self._loop)
        # a channel of its own: gRPC would share one connection between two sessions of a
        # process, and the coordinator tells clients apart by their connection
        from labgrid.remote.generated import labgrid_coordinator_pb2_grpc
        await session.channel.close()
        session.channel = self.grpc.aio.insecure_channel(
            self.address, options=[("grpc.use_local_subchannel_pool", 1),
                                   ("grpc.keepalive_time_ms", 7500), ("grpc.keepalive_timeout_ms", 10000),
                                   ("grpc.http2.ping_timeout_ms", 10000),
                                   ("grpc.http2.max_pings_without_data", 0)])
        session.stub = labgrid_coordinator_pb2_grpc.CoordinatorStub(session.channel)
        session.getuser = lambda: self.username
        session.gethostname = lambda: self.hostname
        await session.start()
        return session

    @property
    def owner(self) -> str:
        return f"{self.hostname}/{self.username}"

    def _matching(self) -> list:
        want = dict(self.spec.tags)
        return sorted((p for p in self.session.places.values()
                       if all(p.tags.get(k) == v for k, v in want.items())), key=lambda p: p.name)

    def _filter_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.spec.tags)

    # -- reserve -------------------------------------------------------------------------
    def _reserve(self, count: int) -> list[Lease]:
        self._reap_stale()
        matching = self._matching()
        if len(matching) < count:
            raise PoolError(f"labgrid coordinator {self.spec.coordinator}: {len(matching)} places "
                            f"have the tags {self._filter_text()}, {count} needed")
        tokens, locked = [], []
        try:
            for _ in range(count):
                tokens.append(self._call(self._create()))
            places = self._wait(tokens)
            for token, place in zip(tokens, places):
                self.tokens[place] = token
                locked.append(place)
                self._call(self._acquire(place))
            return [self._lease(place) for place in places]
        except BaseException:          # Ctrl-C while waiting, a place without SSH: undo it all
            for place in locked:
                self._drop(place)
            for token in tokens[len(locked):]:
                self._cancel(token)
            raise

    async def _create(self) -> str:
        filt = self.pb2.Reservation.Filter(filter=dict(self.spec.tags))
        req = self.pb2.CreateReservationRequest(filters={"main": filt}, prio=self.spec.prio)
        res = await self.session.stub.CreateReservation(req)
        return res.reservation.token

    async def _poll(self, tokens) -> dict:
        out = {}
        for token in tokens:
            res = await self.session.stub.PollReservation(self.pb2.PollReservationRequest(token=token))
            r = res.reservation
            out[token] = (self._State(r.state), list(r.allocations.values()))
        return out

    def _wait(self, tokens) -> list[str]:
        started, shown = time.monotonic(), None
        while True:
            states = self._call(self._poll(tokens))
            bad = [s.name for s, _ in states.values() if s in (self._State.expired, self._State.invalid)]
            if bad:
                raise PoolError(f"labgrid reservation became {bad[0]} while waiting")
            ready = [t for t, (s, names) in states.items() if s is not self._State.waiting and names]
            if len(ready) == len(tokens):
                if shown is not None:
                    self.say(f"pool: got {len(tokens)} places after {time.monotonic() - started:.0f} s")
                return [states[t][1][0] for t in tokens]
            waited = time.monotonic() - started
            if self.spec.wait is not None and waited > self.spec.wait:
                raise PoolError(f"labgrid: {len(ready)} of {len(tokens)} places with the tags "
                                f"{self._filter_text()} free after waiting {waited:.0f} s "
                                f"({self.holders()})")
            if shown is None or time.monotonic() - shown >= self.show_every:
                self.say(f"pool: waiting for {len(tokens)} places with {self._filter_text()} "
                         f"({len(ready)} allocated): {self.holders()}")
                shown = time.monotonic()
            time.sleep(self.poll)

    def holders(self) -> str:
        """Who holds the matching places now, e.g. ``sut-0 locked by host/alice``."""
        owners = self._call(self._owners())
        parts = []
        for p in self._matching():
            if p.acquired:
                parts.append(f"{p.name} locked by {p.acquired}")
            elif p.reservation:
                parts.append(f"{p.name} reserved by {owners.get(p.reservation, '?')}")
            else:
                parts.append(f"{p.name} free")
        return ", ".join(parts) or "no place"

    async def _rpc(self, method: str, request):
        return await getattr(self.session.stub, method)(request)

    async def _owners(self) -> dict:
        res = await self.session.stub.GetReservations(self.pb2.GetReservationsRequest())
        return {r.token: r.owner for r in res.reservations}

    async def _acquire(self, place: str) -> None:
        await self.session.stub.AcquirePlace(self.pb2.AcquirePlaceRequest(placename=place))
        await self.session.sync_with_coordinator()

    def _lease(self, name: str) -> Lease:
        place = self.session.places[name]
        found = {}
        for exporter, group, cls, res_name in place.acquired_resources:
            entry = self.session.resources.get(exporter, {}).get(group, {}).get(res_name)
            if entry is not None and entry.avail:
                found.setdefault(cls, entry)
        service = found.get("NetworkService")
        if service is None:
            raise PoolError(f"labgrid place {name} has no available NetworkService resource "
                            f"(its SSH address); export one for it")
        args = service.args
        conn = dataclasses.replace(self.base, host=args["address"],
                                   user=args.get("username") or self.base.user,
                                   port=int(args.get("port") or 22))
        power = next((c for c in POWER_CLASSES if c in found), None)
        return Lease(name, conn, self.power_command(name) if power else None,
                     f"labgrid place {name}")

    def power_command(self, place: str) -> str:
        """The place's power-cycle hook: labgrid's client, as this lock's owner."""
        env = [f"LG_COORDINATOR={self.spec.coordinator}", f"LG_HOSTNAME={self.hostname}",
               f"LG_USERNAME={self.username}"]
        return shlex.join(["env", *env, sys.executable, "-m", "labgrid.remote.client", "-p", place,
                           "power", "cycle"])

    # -- release -------------------------------------------------------------------------
    def _release(self, lease: Lease) -> None:
        self._drop(lease.name)

    def _drop(self, place: str) -> None:
        token = self.tokens.pop(place, None)
        try:
            self._call(self._unlock(place), timeout=15)
        finally:
            if token:
                self._cancel(token)

    async def _unlock(self, place: str) -> None:
        current = self.session.places.get(place)
        if current is not None and current.acquired == self.owner:
            await self.session.stub.ReleasePlace(
                self.pb2.ReleasePlaceRequest(placename=place, fromuser=self.owner))

    def _cancel(self, token: str) -> None:
        try:
            self._call(self._rpc("CancelReservation", self.pb2.CancelReservationRequest(token=token)),
                       timeout=15)
        except PoolError:
            pass                      # already gone: expired or cancelled

    def _reap_stale(self) -> None:
        """Release places and reservations of fastpath processes of this host that are gone."""
        def stale(owner: str) -> bool:
            m = OWNER.match(owner or "")
            return bool(m) and m["host"] == self.hostname and int(m["pid"]) != os.getpid() \
                and not _alive(int(m["pid"]))
        for place in self._matching():
            if place.acquired and stale(place.acquired):
                self.say(f"pool: releasing {place.name}, left locked by {place.acquired} (gone)")
                self._call(self._rpc("ReleasePlace", self.pb2.ReleasePlaceRequest(
                    placename=place.name, fromuser=place.acquired)))
        for token, owner in self._call(self._owners()).items():
            if stale(owner):
                self._cancel(token)
        self._call(self.session.sync_with_coordinator())

    def close(self) -> None:
        try:
            self.release_all()
        finally:
            if self.session is not None:
                try:
                    self._call(self._shutdown(), timeout=10)
                except Exception:
                    pass
            self._stop_loop()

    async def _shutdown(self) -> None:
        await self.session.stop()
        await self.session.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
