"""Building kernels on the machine that drives a bisection (not on the SUTs)."""

from fastpath.builds.ahead import Build, BuildQueue

__all__ = ["Build", "BuildQueue"]
