"""Plans: the YAML that says which SUT, which swprofiles, which benchmarks.

    from fastpath.plan import load_plan
    plan = load_plan("plan.yaml")   # -> Plan(sut, swprofiles, benchmarks); PlanError when malformed

Schema and examples: docs/plans.md. Durations accept 90s, 30m, 1h, 1h30m or seconds.
"""

from fastpath.plan.check import parse_duration
from fastpath.plan.load import LIBRARY, load_plan, load_sut, plan_from_mapping
from fastpath.plan.model import Plan, SutSpec, SwProfileSpec

__all__ = ["load_plan", "load_sut", "plan_from_mapping", "parse_duration", "Plan", "SutSpec",
           "SwProfileSpec", "LIBRARY"]
