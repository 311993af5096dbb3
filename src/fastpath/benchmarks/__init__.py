"""The benchmark library: library/<suite>/<name>.yaml definitions and result parsers.

    from fastpath.benchmarks.spec import BenchmarkSpec     # a validated benchmark (plan.benchmarks)
    from fastpath.benchmarks.parsers import PARSERS, parser  # output text -> {metric: value}

How to add one: docs/plans.md, "Adding a benchmark".
"""
