"""`fastpath bisect start`: check the baselines, copy them to a temporary store, write the context.

The SUT comes from the connection flags (``host``, ``user``, ...: one SUT) or from
``sut_file``, a file holding a plan's ``sut`` block (one SUT or a pool, checked by the plan
loader: plan.load_sut), never both (``target``). The context records that block as its plan's
``sut``, named ``sut`` (default: the block's name), so `bisect auto --suts K` leases from it.

Checks, in order, each failing with one line (UserError, exit 1, unless the store or the SUT
is at fault):

0. the context file and the output store may be written (``check_context_path``,
   ``check_output_store``): an existing context that records tested commits is not
   overwritten, nor a file that is not a context, and a missing parent directory is not
   created, unless ``force``; a chosen output store (``output_resultstore``) is not the
   original store and holds no swprofile yet (``force``: add to it);
1. the SUT, both swprofiles, the benchmark and the result class are in the store (with a
   pool, the SUT or any ``<sut>@<member>``: the baselines are read and copied under all of
   them, as data.context_suts reads a pooled context);
2. both swprofiles have samples of that result class on that SUT (at least 2 sessions each);
3. the swprofiles are identical except ``kernel_git_sha`` (every differing field is named;
   ``kernel_name``, the running kernel's release, follows from the SHA and is not compared),
   and both have a ``kernel_git_sha``;
4. the SUT is single-node: ``numa_nodes`` of its fingerprint in the store, and of its live
   fingerprint taken over SSH with the given connection (an unreachable SUT fails here); and
   the live fingerprint is the stored one (``sut.fingerprint.mismatches``: architecture,
   cpu_count, cpu_model, memory within 2%; fields the store does not know are skipped), or
   the baselines were recorded on another machine: the differing fields are named. With a
   pool, every SUT a run reserves is fingerprinted (pool.identical.fingerprint_pool), they
   must be identical (check_identical), and each is checked so against every stored SUT row
   of the baselines (a labgrid coordinator may lease other places to `bisect auto`, which
   checks its leases so again: search.same_as_baselines);
5. the bad swprofile is worse than the good one in the result class's direction: refused
   when bad is significantly better, or its mean is not worse at all (both means and
   intervals). When it is worse but the ends are not yet told apart (Welch p >= 0.05, or
   the policy could not tell them apart: sprt says how many baseline sessions would be
   enough), the context is written anyway and records it (``ends_not_apart``: the reason,
   the p-value, both intervals and the advice): `bisect auto` (the engine) measures the ends
   itself, up to its ``end_budget`` end sessions; the per-commit flow (`bisect run`, `bisect
   auto --engine git`) refuses the context until more baseline sessions tell them apart;
6. the baselines are merged into the output store (``output-resultstore``): the one given,
   or a new temporary SQLite store; the original is opened read-only and never written.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, fields

from fastpath.bisect import context as contexts
from fastpath.bisect import data, judges
from fastpath.bisect.params import DEFAULT_POLICY, describe, params_for
from fastpath.bisect.baselines import check_ends
from fastpath.errors import UserError
from fastpath.plan.model import SutSpec
from fastpath.store import open_store
from fastpath.store.merge import merge
from fastpath.store.model import Sut, SwProfile
from fastpath.store.url import mask, parse as parse_url

NOT_COMPARED = {"id", "kernel_git_sha", "kernel_name"}


@dataclass
class StartOptions:
    good_swprofile: str
    bad_swprofile: str
    benchmark: str
    resultclass: str
    resultstore: str
    context: str
    sut: str | None = None              # the baselines' SUT in the store (with sut_file: default its name)
    host: str | None = None             # one SUT by its connection (the seed's flags), or ...
    user: str | None = None
    port: int | None = None
    keyfile: str | None = None
    known_hosts: str | None = None
    power_cycle: str | None = None
    sut_file: str | None = None         # ... a file holding a plan's sut block: one SUT or a pool
    kernel_config: str | None = None    # config file build_local_kernel.sh uses
    boot_timeout: float | None = None   # seconds to wait for SSH after booting a tested kernel
    policy: str = DEFAULT_POLICY
    policy_params: dict | None = None   # overrides of the policy's parameters (SprtParams, CiParams)
    output_dir: str | None = None       # parent of the temporary store (default: the system tmp)
    output_resultstore: str | None = None   # the output store (default: a new temporary one)
    force: bool = False                 # overwrite a context, create its directory, add to an output store


# StartOptions fields that say how to reach one SUT: sut_file replaces them.
CONNECTION_FIELDS = ("host", "user", "port", "keyfile", "known_hosts", "power_cycle")


@dataclass
class Target:
    """Where the bisection runs: the context plan's ``sut`` block and its checked SutSpec."""
    block: dict                 # name: the baselines' SUT id in the store
    spec: SutSpec
    file: str | None = None     # the sut file it came from (None: the connection flags)

    @property
    def pooled(self) -> bool:
        return self.spec.pool is not None

    @property
    def where(self) -> str:
        """How a UserError names it: the parameter that gave it (a placeholder: WHERE_PARAMS)."""
        return f"{{sut_file}} {self.file}" if self.file else f"{{host}} {self.spec.connection.host}"


WHERE_PARAMS = ("sut_file", "host")     # the placeholders of Target.where


def target(o: StartOptions) -> Target:
    """The SUT (or pool) from the connection flags or from ``sut_file``, which exclude each
    other; a sut file is checked as a plan's ``sut`` (plan.load_sut: errors name file and key)."""
    from fastpath.plan import load_sut
    from fastpath.sut.transport import Connection

    given = [key for key in CONNECTION_FIELDS if getattr(o, key) not in (None, "")]
    if o.sut_file:
        if given:
            shown = ", ".join("{" + key + "}" for key in given)
            raise UserError(f"{{sut_file}} {o.sut_file}: give either {{sut_file}} or the connection flags, not "
                            f"both ({shown} given); the file's sut block says how to reach the SUTs",
                            params=("sut_file", *given))
        spec, block = load_sut(o.sut_file)
        block["name"] = o.sut or spec.name
        if o.boot_timeout:
            block["boot_timeout"] = o.boot_timeout
        return Target(block, dataclasses.replace(spec, name=block["name"]), o.sut_file)
    if not o.host:
        raise UserError("give {host} HOST (one SUT; with {user}, {port}, {keyfile}, {known_hosts}) or "
                        "{sut_file} FILE (a plan's sut block: one SUT or a pool of them)",
                        params=("host", "user", "port", "keyfile", "known_hosts", "sut_file"))
    if not o.sut:
        raise UserError("{sut}: required with {host} (the name of the baselines' SUT in the result store)",
                        params=("sut", "host"))
    block = {"name": o.sut, "connection": _connection(o)}
    if o.power_cycle:
        block["power_cycle"] = o.power_cycle
    if o.boot_timeout:
        block["boot_timeout"] = o.boot_timeout
    conn = Connection(host=o.host, user=o.user or None, port=o.port, keyfile=o.keyfile,
                      known_hosts=o.known_hosts)
    return Target(block, SutSpec(o.sut, conn, o.power_cycle))


def profile_differences(good: SwProfile, bad: SwProfile) -> list[str]:
    """Names of the fields (other than the kernel's SHA and release) in which they differ."""
    return [f.name for f in fields(SwProfile)
            if f.name not in NOT_COMPARED and getattr(good, f.name) != getattr(bad, f.name)]


def _find(items, ident, what: str, param: str, store_url: str):
    for item in items:
        if item.id == ident:
            return item
    known = ", ".join(sorted(i.id for i in items)) or "none"
    raise UserError(f"{{{param}}} '{ident}': no such {what} in {store_url} (known: {known})", params=(param,))


def _connection(o: StartOptions) -> dict:
    params = {"host": o.host}
    for key in ("user", "port", "keyfile", "known_hosts"):
        if getattr(o, key) not in (None, ""):
            params[key] = getattr(o, key)
    return {"method": "SSH", "params": params}


# What to do when the SUT cannot be reached, by SshRejectedError.kind (others: "transient").
_CONNECTION_ADVICE = {
    "host-key-unknown": "give the known_hosts file that pins the SUT's key with --known-hosts FILE",
    "host-key-changed": "check the SUT's new key before trusting it (--known-hosts FILE names the "
                        "known_hosts file to check against)",
    "login": "check --user and --keyfile",
    "host": "check --host",
    "refused": "check --host and --port",
    "config": "check the SSH options and ~/.ssh/config",
    "transient": "the SUT must answer SSH now: check --host and --port, and that it is up",
}


def connection_advice(kind: str) -> str:
    """The sentence bisect start adds to a connection failure: what to change, and which
    connection flags exist (the seed's four lack --known-hosts and --power-cycle)."""
    return (f"bisect start: {_CONNECTION_ADVICE.get(kind, _CONNECTION_ADVICE['transient'])}; the "
            f"connection flags are --host, --port, --user, --keyfile, --known-hosts and --power-cycle "
            f"(a local command that power-cycles the SUT), and `fastpath lab up` prints them for the lab")


def _advice(t: Target, kind: str) -> str:
    """What to change after a connection failure of ``kind``: the sut file's entries when the
    SUTs came from one, else the connection flags (connection_advice)."""
    if not t.file:
        return connection_advice(kind)
    who = "each SUT of the pool (sut.pool and sut.connection)" if t.pooled else "sut.connection"
    return (f"bisect start: check {who} in --sut-file {t.file} (host, port, user, keyfile, known_hosts; "
            f"docs/plans.md); the SUTs must answer SSH now")


def check_live_sut(t: Target) -> dict:
    """The live hardware fingerprints, over SSH (the SUTs must be reachable to bisect on
    them): ``{"": hw}`` for one SUT, ``{member: hw}`` for every SUT of a pool that a run
    reserves (pool.identical.fingerprint_pool; they must be identical: check_identical). A
    connection failure keeps ssh's reason and says which flag or entry to change."""
    from fastpath.errors import SshRejectedError, SutTransientError
    from fastpath.pool.identical import check_identical, fingerprint_pool
    from fastpath.sut.fingerprint import fingerprint
    from fastpath.sut.transport import Transport

    try:
        if t.pooled:
            fps = fingerprint_pool(t.spec)
            try:
                check_identical(fps)
            except UserError as err:
                raise UserError(f"{t.where}: {err}", params=WHERE_PARAMS) from None
            return {name: dict(fp.hw) for name, fp in fps.items()}
        with Transport(t.spec.connection) as transport:
            return {"": dict(fingerprint(transport).hw)}
    except SshRejectedError as err:
        raise SshRejectedError(f"{err}; {_advice(t, err.kind)}", err.kind, err.stderr) from None
    except SutTransientError as err:     # a refused port, a timeout, a dropped link
        raise SutTransientError(f"{err}; {_advice(t, 'transient')}") from None


def _benchmark_entry(bench) -> dict:
    """The plan's benchmark: the library definition with the parameters the baselines used."""
    import yaml

    from fastpath.plan import LIBRARY

    file = LIBRARY / f"{bench.id}.yaml"
    if not file.is_file():
        raise UserError(f"{{benchmark}} '{bench.id}': not in the benchmark library ({LIBRARY}); "
                        f"bisect run needs its definition", params=("benchmark",))
    known = (yaml.safe_load(file.read_text()) or {}).get("params") or {}
    params = {k: v for k, v in (bench.params or {}).items() if k in known}
    return {"include": f"{bench.id}.yaml", **({"params": params} if params else {})}


def check_context_path(path: str, force: bool = False, param: str = "context") -> None:
    """Refuse to overwrite a context holding tested commits (or a file that is no context),
    and to create a missing directory for it, unless ``force``. Messages name the path as
    the caller's parameter ``param``."""
    if force:
        return
    flag = "{" + param + "}"
    named = (param, "force")
    target = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise UserError(f"{flag} {path}: directory {parent} does not exist (create it, or give {{force}})",
                        params=named)
    if not os.path.lexists(target):
        return
    try:
        old = contexts.load(target)
    except UserError as err:
        raise UserError(f"{flag} {path}: exists and is not a bisection context ({err}); give another "
                        f"{flag}, or {{force}} to overwrite it", params=named) from None
    if old.tested:
        raise UserError(f"{flag} {path}: records {len(old.tested)} tested commit(s) of an earlier bisection "
                        f"(output store {mask(old.output_resultstore)}); give another {flag}, or {{force}} "
                        f"to overwrite it", params=named)


def _same_store(a: str, b: str) -> bool:
    x, y = parse_url(a), parse_url(b)
    if x.scheme in ("csv", "sqlite"):
        return x.scheme == y.scheme and os.path.realpath(x.path) == os.path.realpath(y.path)
    return (x.scheme, x.host, x.port, x.database) == (y.scheme, y.host, y.port, y.database)


def _absolute(url: str) -> str:
    """A file store's URL with an absolute path (`bisect run` reads it from the kernel tree)."""
    parsed = parse_url(url)
    if parsed.scheme == "sqlite":
        return f"sqlite:///{parsed.path}"
    return parsed.path if parsed.scheme == "csv" else url


def check_output_store(url: str, original: str, force: bool = False) -> None:
    """The chosen output store is not the original one and, unless ``force``, holds nothing yet."""
    if _same_store(url, original):
        raise UserError(f"{{output_resultstore}} {parse_url(url).masked}: is the {{resultstore}}; the original "
                        f"store is never written: give another store", params=("output_resultstore", "resultstore"))
    parsed = parse_url(url)
    if force or (parsed.scheme in ("csv", "sqlite") and not os.path.exists(parsed.path)):
        return
    with open_store(url, readonly=True) as store:
        held = sorted(p.id for p in store.swprofiles())
    if held:
        raise UserError(f"{{output_resultstore}} {parsed.masked}: already holds {len(held)} swprofile(s) "
                        f"({', '.join(held[:3])}{', ...' if len(held) > 3 else ''}); give a new or empty "
                        f"store, or {{force}} to add to it", params=("output_resultstore", "force"))


def check_same_machine(where: str, suts: list[Sut], live: dict, url: str) -> None:
    """Each live SUT (``{member: hw}``; member "" for one SUT) is single-node and is the
    machine the baselines were recorded on: every stored SUT row of them (``suts``). Messages
    begin with ``where`` (the parameter that named the SUT: Target.where)."""
    from fastpath.sut.fingerprint import mismatches

    named = where
    for member, hw in live.items():
        where = f"{named} (SUT {member} of the pool)" if member else named
        if int(hw.get("numa_nodes", 1)) != 1:
            raise UserError(f"{where}: the SUT has {hw['numa_nodes']} NUMA nodes now; "
                            f"bisection needs a single-node SUT", params=WHERE_PARAMS)
        for sut in suts:
            differ = mismatches(sut, Sut(id=sut.id, **hw), skip_unknown=True)
            if differ:
                shown = "; ".join(f"{key} {was!r} recorded, {now!r} now" for key, was, now in differ)
                raise UserError(f"{where}: not the machine the baselines of SUT '{sut.id}' in {url} were "
                                f"recorded on: {shown}; bisect on that machine, or record baselines on this one",
                                params=WHERE_PARAMS)


def _baseline_suts(store, t: Target, url: str) -> list[Sut]:
    """The store's SUT rows the baselines may sit under: the SUT, and with a pool each
    ``<sut>@<member>`` (a pooled `plan exec` stores its sessions so: data.pool_suts)."""
    name = t.block["name"]
    rows = {s.id: s for s in store.suts()}
    found = [rows[i] for i in data.pool_suts(store, name, t.pooled) if i in rows]
    if not found:
        pool = f" (nor a SUT '{name}@<member>' of its pool)" if t.pooled else ""
        raise UserError(f"{{sut}} '{name}': no such SUT{pool} in {url} (known: {', '.join(sorted(rows)) or 'none'})",
                        params=("sut",))
    return found


def start(o: StartOptions) -> contexts.Context:
    """Validate and prepare a bisection; return the context (also written to ``o.context``)."""
    params = params_for(o.policy, o.policy_params)
    t = target(o)
    check_context_path(o.context, o.force)
    if o.output_resultstore:
        check_output_store(o.output_resultstore, o.resultstore, o.force)
    with open_store(o.resultstore, readonly=True) as store:
        url = store.url
        suts = _baseline_suts(store, t, url)
        ids = [s.id for s in suts]
        good = _find(store.swprofiles(), o.good_swprofile, "swprofile", "good_swprofile", url)
        bad = _find(store.swprofiles(), o.bad_swprofile, "swprofile", "bad_swprofile", url)
        bench = _find(store.benchmarks(), o.benchmark, "benchmark", "benchmark", url)
        rcs = [rc for rc in store.resultclasses() if rc.benchmark == o.benchmark]
        rc = next((r for r in rcs if r.name == o.resultclass), None)
        if rc is None:
            raise UserError(f"{{resultclass}} '{o.resultclass}': benchmark '{o.benchmark}' has no such result "
                            f"class in {url} (known: {', '.join(sorted(r.name for r in rcs)) or 'none'})",
                            params=("resultclass",))
        values = {}
        for swp, param in ((good, "good_swprofile"), (bad, "bad_swprofile")):
            values[swp.id] = data.session_values(store, ids, swp.id, bench.id, rc.name)
            if not values[swp.id]:
                raise UserError(f"{{{param}}} '{swp.id}': no baseline results for '{bench.id}' / '{rc.name}' on SUT "
                                f"'{', '.join(ids)}' in {url}", params=(param,))
        repeats = max(data.repeats_per_session(store, i, good.id, bench.id, rc.name) for i in ids)
        sessions = len(values[good.id])
    diff = profile_differences(good, bad)
    if diff:
        shown = "; ".join(f"{f}: {getattr(good, f)!r} vs {getattr(bad, f)!r}" for f in diff)
        raise UserError(f"swprofiles '{good.id}' and '{bad.id}' must differ only in kernel_git_sha, "
                        f"but differ in {', '.join(diff)} ({shown})")
    for swp, param in ((good, "good_swprofile"), (bad, "bad_swprofile")):
        if not swp.kernel_git_sha:
            raise UserError(f"{{{param}}} '{swp.id}': has no kernel_git_sha in {url}; git bisect needs it",
                            params=(param,))
    for sut in suts:
        if sut.numa_nodes != 1:
            raise UserError(f"{{sut}} '{sut.id}': has {sut.numa_nodes} NUMA nodes; bisection needs a single-node SUT",
                            params=("sut",))
    check_same_machine(t.where, suts, check_live_sut(t), url)
    g, b = values[good.id], values[bad.id]
    ends = check_ends(g, b, rc.improvement, None, good.id, bad.id)     # the direction first
    if not ends.refusal:
        ends = check_ends(g, b, rc.improvement, judges.prepare(o.policy, g, b, rc.improvement, params).problem(),
                          good.id, bad.id)
    if ends.refusal:
        raise UserError(f"refusing to bisect '{rc.name}': {ends.refusal}")

    if o.output_resultstore:
        output = _absolute(o.output_resultstore)
    else:
        out_dir = tempfile.mkdtemp(prefix="bisect-resultstore-", dir=o.output_dir)
        output = f"sqlite:///{os.path.join(out_dir, 'results.db')}"
    merge([o.resultstore], output, suts=ids, swprofiles=[good.id, bad.id], benchmarks=[bench.id])
    plan = {
        "sut": t.block,
        "swprofiles": [{"cmdline": list(good.cmdline), "sysctl": list(good.sysctl),
                        "bootscript": list(good.bootscript)}],
        "benchmarks": [_benchmark_entry(bench)],
        "defaults": {"benchmark": {"warmups": int((bench.params or {}).get("warmups", 1)),
                                   "repeats": repeats, "sessions": sessions}},
    }
    ctx = contexts.Context(plan=plan, good_swprofile=good.id, good_sha=good.kernel_git_sha,
                           bad_swprofile=bad.id, bad_sha=bad.kernel_git_sha, resultclass=rc.name,
                           resultstore=url, output_resultstore=output, benchmark=bench.id,
                           improvement=rc.improvement, policy=describe(o.policy, params),
                           kernel_config=os.path.abspath(o.kernel_config) if o.kernel_config else None,
                           ends_not_apart=ends.not_apart)
    contexts.save(ctx, o.context)
    ctx.path = o.context
    return ctx
