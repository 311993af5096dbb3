"""The SUTs of a pool must be identical machines: their fingerprints are compared field by field.

Compared: every hardware field but ``host_name`` (machines have their own names), with memory
allowed to differ by 2% (MemTotal moves by a few KiB between kernels and boots, as
execute.Runner allows), and the userspace. The running kernel is not compared: every session
boots its own.
"""

from __future__ import annotations

from fastpath.errors import FastpathError, UserError

COMPARED = ("architecture", "cpu_count", "cpu_model", "numa_nodes", "memory", "product_name")


def check_identical(fingerprints: dict) -> None:
    """``{name: Fingerprint}``; UserError naming the first field that differs."""
    names = list(fingerprints)
    if len(names) < 2:
        return
    first = names[0]
    ref = fingerprints[first]
    for name in names[1:]:
        fp = fingerprints[name]
        for key in COMPARED:
            a, b = ref.hw.get(key), fp.hw.get(key)
            same = abs(a - b) <= 0.02 * max(a, b) if key == "memory" and a and b else a == b
            if not same:
                raise UserError(_differ(key, first, a, name, b))
        if ref.sw.get("userspace") != fp.sw.get("userspace"):
            raise UserError(_differ("userspace", first, ref.sw.get("userspace"), name,
                                    fp.sw.get("userspace")))


def _differ(key, a_name, a, b_name, b) -> str:
    return (f"the SUTs of the pool are not identical: {key} is {a!r} on {a_name} but {b!r} on "
            f"{b_name}; a pool must hold identical machines")


def fingerprint_pool(sut, say=None) -> dict:
    """Reserve every SUT of ``sut.pool``, fingerprint each, release them: ``{name: Fingerprint}``
    (what `fastpath sut fingerprint --plan` prints before check_identical judges it)."""
    from fastpath.pool import open_pool, pool_size
    from fastpath.sut.fingerprint import fingerprint
    from fastpath.sut.transport import Transport

    out = {}
    with open_pool(sut, say=say) as pool:
        for lease in pool.reserve(pool_size(sut)):
            try:
                with Transport(lease.connection) as t:
                    out[lease.name] = fingerprint(t)
            except FastpathError as err:      # say which SUT (ssh's message names host:port)
                err.args = (f"SUT {lease.name} of the pool: {err}",)
                raise
    return out
