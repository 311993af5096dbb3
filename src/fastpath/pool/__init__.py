"""Pools of identical SUTs: a static list or labgrid places (see base.py for the interface).

    with open_pool(plan.sut) as pool:
        leases = pool.reserve(pool_size(plan.sut))
"""

from __future__ import annotations

from fastpath.errors import UserError
from fastpath.pool.base import Lease, Pool, signals_interrupt


def open_pool(sut, say=None) -> Pool:
    """The pool of ``sut`` (plan.model.SutSpec with ``pool``)."""
    spec = sut.pool
    if spec is None:
        raise UserError(f"SUT {sut.name} has no pool")
    if spec.kind == "labgrid":
        from fastpath.pool.labgrid import LabgridPool
        return LabgridPool(spec, sut.connection, say=say)
    from fastpath.pool.static import StaticPool
    return StaticPool(spec, say=say)


def pool_size(sut) -> int:
    """How many SUTs a run reserves: ``count``, or every SUT of a static list."""
    return sut.pool.count or len(sut.pool.suts)


__all__ = ["Lease", "Pool", "open_pool", "pool_size", "signals_interrupt"]
