"""A static pool: the SUTs the plan lists (``sut.pool.suts``), for labs without labgrid.

There is no coordinator, so nothing stops another user from using the same machines at the
same time: reserving takes the first ``count`` entries at once, releasing is a no-op."""

from __future__ import annotations

from fastpath.errors import PoolError
from fastpath.pool.base import Lease, Pool


class StaticPool(Pool):
    def __init__(self, spec, say=None):
        super().__init__(say)
        self.spec = spec                 # plan.model.PoolSpec with .suts

    def _reserve(self, count: int) -> list[Lease]:
        taken = {lease.name for lease in self.leases}
        free = [m for m in self.spec.suts if m.name not in taken]
        if count > len(free):
            raise PoolError(f"the static pool has {len(free)} free SUTs, {count} asked for")
        return [Lease(m.name, m.connection, m.power_cycle, f"static SUT {m.name}")
                for m in free[:count]]

    def _release(self, lease: Lease) -> None:
        pass
