"""The bisection context file (`bisection_context.yaml`): written by `bisect start`, read by
`bisect run`.

Keys (the seed's, DESIGN.md section 3): ``plan`` (sut with connection, the shared swprofile
fields, the benchmark, defaults), ``good-swprofile``, ``good_sha``, ``bad-swprofile``,
``bad_sha``, ``resultclass``, ``resultstore`` (the original store, never written),
``output-resultstore`` (the temporary store: baseline copies plus bisection results).
Extra keys: ``benchmark`` (suite/name), ``improvement`` (higher/lower), ``policy``
({name, params}), ``kernel-config`` (optional: the config file scripts/build_local_kernel.sh
uses), ``tested`` (one entry per `bisect run`: sha, swprofile, outcome,
sessions, time) and ``engine`` (`bisect auto`'s engine: the range's commits, every session it
took in order, the untestable commits, its parameters, status, posterior and answer) and
``ends-not-apart`` (written by `bisect start` when bad is worse than good but the ends are not
yet told apart: ``reason``, ``advice`` (how many baseline sessions the per-commit flow needs
first), ``p_value`` (Welch) and ``good``/``bad`` ({mean, ci95, sessions}); absent when they are
told apart. The engine measures the ends itself; `bisect run` refuses such a context (128)
until more baseline sessions tell them apart, and then removes the key).
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from dataclasses import dataclass, field

import yaml

from fastpath.bisect import judges
from fastpath.bisect.noise import HIGHER, LOWER
from fastpath.bisect.params import DEFAULT_POLICY, POLICIES, params_for
from fastpath.errors import PlanError, UserError

REQUIRED = ("plan", "good-swprofile", "good_sha", "bad-swprofile", "bad_sha", "resultclass",
            "resultstore", "output-resultstore")
OPTIONAL = ("benchmark", "improvement", "policy", "kernel-config", "tested", "engine", "ends-not-apart")


@dataclass
class Context:
    plan: dict
    good_swprofile: str
    good_sha: str
    bad_swprofile: str
    bad_sha: str
    resultclass: str
    resultstore: str
    output_resultstore: str
    benchmark: str
    improvement: str
    policy: dict = field(default_factory=lambda: {"name": DEFAULT_POLICY, "params": {}})
    tested: list = field(default_factory=list)
    kernel_config: str | None = None
    engine: dict | None = None       # the engine's record (bisect auto): sessions, posterior, answer
    ends_not_apart: dict | None = None   # bisect start: worse, but not yet told apart (None: told apart)
    path: str | None = None          # where it was loaded from (not saved)

    @property
    def sut(self) -> str:
        return self.plan["sut"]["name"]

    def judge(self, good, bad):
        """The context's policy over these baseline session values."""
        name = self.policy.get("name", DEFAULT_POLICY)
        params = params_for(name, self.policy.get("params"))
        return judges.prepare(name, good, bad, self.improvement, params)

    def check_ends(self, good, bad):
        """`bisect start`'s question over these baseline session values (baselines.check_ends,
        with the context's policy): refuse, told apart, or not yet told apart (its record)."""
        from fastpath.bisect.baselines import check_ends

        ends = check_ends(good, bad, self.improvement, None, self.good_swprofile, self.bad_swprofile)
        if ends.refusal:
            return ends
        return check_ends(good, bad, self.improvement, self.judge(good, bad).problem(), self.good_swprofile,
                          self.bad_swprofile)

    def to_dict(self) -> dict:
        return {"plan": self.plan, "good-swprofile": self.good_swprofile, "good_sha": self.good_sha,
                "bad-swprofile": self.bad_swprofile, "bad_sha": self.bad_sha,
                "resultclass": self.resultclass, "resultstore": self.resultstore,
                "output-resultstore": self.output_resultstore, "benchmark": self.benchmark,
                "improvement": self.improvement, "policy": self.policy,
                **({"kernel-config": self.kernel_config} if self.kernel_config else {}),
                "tested": self.tested, **({"engine": self.engine} if self.engine else {}),
                **({"ends-not-apart": self.ends_not_apart} if self.ends_not_apart else {})}


def save(ctx: Context, path: str | os.PathLike) -> pathlib.Path:
    """Write the context atomically (a crash never leaves half a file)."""
    path = pathlib.Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(ctx.to_dict(), fh, sort_keys=False, default_flow_style=False)
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(f"bisection context {path}: cannot write: {err.strerror or err}") from None
    return path


def load(path: str | os.PathLike) -> Context:
    """Read and check a context file; PlanError naming the file and key when malformed."""
    path = pathlib.Path(path).expanduser()
    try:
        text = path.read_text()
    except OSError as err:
        raise UserError(f"bisection context {path}: cannot read: {err.strerror or err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise PlanError(f"not valid YAML: {getattr(err, 'problem', err)}", file=str(path),
                        line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise PlanError("expected a mapping of context keys", file=str(path))
    for key in REQUIRED:
        if key not in data:
            raise PlanError("missing (was it written by `fastpath bisect start`?)", file=str(path), key=key)
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise PlanError(f"unknown key (known: {', '.join(REQUIRED + OPTIONAL)})", file=str(path), key=unknown[0])
    for key in REQUIRED[1:]:
        if not isinstance(data[key], str) or not data[key]:
            raise PlanError("must be a non-empty string", file=str(path), key=key)
    plan = data["plan"]
    if not isinstance(plan, dict) or not isinstance(plan.get("sut"), dict) or "name" not in plan["sut"]:
        raise PlanError("must hold sut.name and sut.connection", file=str(path), key="plan.sut")
    benchmark = data.get("benchmark") or _plan_benchmark(plan, path)
    improvement = data.get("improvement", "higher")
    if improvement not in (HIGHER, LOWER):
        raise PlanError("must be 'higher' or 'lower'", file=str(path), key="improvement")
    pol = data.get("policy") or {"name": DEFAULT_POLICY, "params": {}}
    if not isinstance(pol, dict) or pol.get("name") not in POLICIES:
        raise PlanError(f"policy.name must be one of {', '.join(POLICIES)}", file=str(path),
                        key="policy")
    try:
        params_for(pol["name"], pol.get("params"))
    except UserError as err:
        raise PlanError(str(err), file=str(path), key="policy.params") from None
    engine = data.get("engine")
    if engine is not None and not isinstance(engine, dict):
        raise PlanError("must be a mapping (written by `fastpath bisect auto`)", file=str(path), key="engine")
    apart = data.get("ends-not-apart")
    if apart is not None and not isinstance(apart, dict):
        raise PlanError("must be a mapping (written by `fastpath bisect start`)", file=str(path),
                        key="ends-not-apart")
    return Context(plan=plan, good_swprofile=data["good-swprofile"], good_sha=data["good_sha"],
                   bad_swprofile=data["bad-swprofile"], bad_sha=data["bad_sha"],
                   resultclass=data["resultclass"], resultstore=data["resultstore"],
                   output_resultstore=data["output-resultstore"], benchmark=benchmark,
                   improvement=improvement, policy=pol, tested=list(data.get("tested") or []),
                   kernel_config=data.get("kernel-config") or None, engine=engine,
                   ends_not_apart=apart or None, path=str(path))


def _plan_benchmark(plan: dict, path) -> str:
    benches = plan.get("benchmarks") or []
    if len(benches) != 1 or not isinstance(benches[0], dict):
        raise PlanError("must list exactly one benchmark", file=str(path), key="plan.benchmarks")
    b = benches[0]
    if "suite" in b and "name" in b:
        return f"{b['suite']}/{b['name']}"
    if isinstance(b.get("include"), str) and b["include"].endswith(".yaml"):
        return b["include"][:-len(".yaml")]
    raise PlanError("needs include (suite/name.yaml) or suite and name", file=str(path),
                    key="plan.benchmarks[0]")
