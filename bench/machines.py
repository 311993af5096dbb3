"""Simulated machines for bench/bisect_sim.py: the plug-in interface and the built-in models.

A machine model is a *factory* ``factory(n, effect, rng) -> machine``: ``n`` commits after
the good one (commit indices 0..n, 0 good, n bad), ``effect`` the regression's size in
session standard deviations, ``rng`` a numpy Generator (the only randomness it may use). The
machine it returns has

- ``culprits``: the true first-bad commits (indices), for scoring; the first is the one a
  bisection must name, all of them for "both culprits";
- ``improvement``: "lower" or "higher", which way the benchmark gets better;
- ``session(i) -> float``: one session's value of commit ``i``. The machine keeps its own
  clock (how many sessions it has given), so drift and steps can depend on it.

Any importable module can hold one: ``python bench/bisect_sim.py --machine mymod:factory``.
The built-in ones below use that same interface (``MACHINES`` maps their names to factories).
Values sit around 1000 and move by effect * sd with a random direction of "worse".
"""

from __future__ import annotations

import numpy as np

BASE = 1000.0


class Machine:
    """A history with piecewise-constant levels (in sds, larger is worse) and a noise
    source; subclasses change the noise or add time effects."""

    def __init__(self, n: int, rng: np.random.Generator, levels: np.ndarray, culprits: list[int],
                 noise=None, sd_after: np.ndarray | None = None):
        self.n, self.rng = n, rng
        self.levels = levels
        self.culprits = culprits
        self.higher = bool(rng.random() < 0.5)
        self.improvement = "higher" if self.higher else "lower"
        self.noise = noise or (lambda: float(rng.standard_normal()))
        self.sd = sd_after if sd_after is not None else np.ones(n + 1)
        self.clock = 0

    def machine_level(self) -> float:     # drift and steps of the machine itself (in sds)
        return 0.0

    def session(self, i: int) -> float:
        bad = self.levels[i] + self.sd[i] * self.noise() + self.machine_level()
        self.clock += 1
        return BASE + (-bad if self.higher else bad)


def _culprit(n, rng) -> int:
    return int(rng.integers(1, n + 1))


def _step(n, at, size) -> np.ndarray:
    lv = np.zeros(n + 1)
    lv[at:] += size
    return lv


def _standardised(draw, rng, size=200_000):
    x = draw(np.random.default_rng(12345), size)
    mean, sd = float(x.mean()), float(x.std())

    def one() -> float:
        return (float(draw(rng, 1)[0]) - mean) / sd
    return one


def normal(n, effect, rng):
    c = _culprit(n, rng)
    return Machine(n, rng, _step(n, c, effect), [c])


def lognormal(n, effect, rng):
    c = _culprit(n, rng)
    return Machine(n, rng, _step(n, c, effect), [c], _standardised(lambda g, k: np.exp(0.5 * g.standard_normal(k)), rng))


def bimodal(n, effect, rng):
    """A boot lands in one of two layouts: 70% N(0, 0.3), 30% N(2, 0.3)."""
    c = _culprit(n, rng)
    draw = lambda g, k: np.where(g.random(k) < 0.3, 2.0, 0.0) + 0.3 * g.standard_normal(k)  # noqa: E731
    return Machine(n, rng, _step(n, c, effect), [c], _standardised(draw, rng))


def heavy(n, effect, rng):
    """Student t with 3 degrees of freedom: heavy tails on both sides."""
    c = _culprit(n, rng)
    return Machine(n, rng, _step(n, c, effect), [c], _standardised(lambda g, k: g.standard_t(3, k), rng))


def outliers(n, effect, rng):
    """Rare wild boots: 5% of boots are slowed by U(4, 12) sds (in the worse direction)."""
    c = _culprit(n, rng)
    draw = lambda g, k: g.standard_normal(k) + np.where(g.random(k) < 0.05, g.uniform(4, 12, k), 0.0)  # noqa: E731
    return Machine(n, rng, _step(n, c, effect), [c], _standardised(draw, rng))


class _Drift(Machine):
    rate = 0.01                    # sds per session: 1 sd after 100 sessions

    def __init__(self, *a, sign=1.0, **k):
        super().__init__(*a, **k)
        self.sign = sign

    def machine_level(self) -> float:
        return self.sign * self.rate * self.clock


def drift(n, effect, rng):
    """The machine's level drifts by 0.01 sd per session (direction random)."""
    c = _culprit(n, rng)
    return _Drift(n, rng, _step(n, c, effect), [c], sign=1.0 if rng.random() < 0.5 else -1.0)


class _Stepped(Machine):
    def __init__(self, *a, at=0, size=0.0, **k):
        super().__init__(*a, **k)
        self.at, self.size = at, size

    def machine_level(self) -> float:
        return self.size if self.clock >= self.at else 0.0


def step(n, effect, rng):
    """The machine's level steps by 1.5 sd (either way) once, after 10-60 sessions."""
    c = _culprit(n, rng)
    return _Stepped(n, rng, _step(n, c, effect), [c], at=int(rng.integers(10, 61)),
                    size=1.5 if rng.random() < 0.5 else -1.5)


class _Slump(Machine):
    def __init__(self, *a, total=0.0, over=150, **k):
        super().__init__(*a, **k)
        self.total, self.over = total, over

    def machine_level(self) -> float:
        return self.total * min(self.clock, self.over) / self.over


def slump(n, effect, rng):
    """The machine's level moves by three regressions (either way), evenly over its first 150
    sessions: a lab whose load changes while it bisects (the 12-commit lab demo's level fell
    about threefold). Between two re-measures of an end it moves by more than the noise."""
    c = _culprit(n, rng)
    return _Slump(n, rng, _step(n, c, effect), [c], total=3.0 * effect * (1.0 if rng.random() < 0.5 else -1.0))


def noisier(n, effect, rng):
    """The regression also doubles the noise."""
    c = _culprit(n, rng)
    sd = np.ones(n + 1)
    sd[c:] = 2.0
    return Machine(n, rng, _step(n, c, effect), [c], sd_after=sd)


def improvement(n, effect, rng):
    """Another stretch of the range (1 to n/10 commits, not holding the culprit) is
    4 sds better than good (far beyond the good level, wherever it lies): an improvement,
    undone later."""
    c = _culprit(n, rng)
    lv = _step(n, c, effect)
    width = int(rng.integers(1, max(2, n // 10) + 1))
    # the stretch [a, a + width) lies inside 1..n-1 and does not hold c
    choices = [a for a in range(1, n - width + 1) if not (a <= c < a + width) and a + width <= n]
    if choices:
        a = int(rng.choice(choices))
        lv[a:a + width] = -4.0
    return Machine(n, rng, lv, [c])


def overshoot(n, effect, rng):
    """The culprit makes it worse by twice the regression; a later commit wins half back."""
    c = int(rng.integers(1, n))
    fix = int(rng.integers(c + 1, n + 1))
    lv = _step(n, c, 2 * effect) - _step(n, fix, effect)
    return Machine(n, rng, lv, [c])


def two(n, effect, rng):
    """Two culprits, each worse by the effect."""
    a, b = sorted(int(x) for x in rng.choice(np.arange(1, n + 1), size=2, replace=False))
    return Machine(n, rng, _step(n, a, effect) + _step(n, b, effect), [a, b])


MACHINES = {f.__name__: f for f in (normal, lognormal, bimodal, heavy, outliers, drift, step, slump, noisier,
                                    improvement, overshoot, two)}
STATIONARY = ("normal", "lognormal", "bimodal", "heavy", "outliers")
