"""Summaries and comparisons of benchmark samples: pure functions, no I/O.

The unit of independent replication is the **session** (one boot of the SUT). Repeats inside
one boot share its memory layout and device state, so they are correlated and understate the
noise a new boot brings (Kalibera & Jones, "Rigorous benchmarking in reasonable time", 2013).
Hence, for one result class of one swprofile:

- ``mean`` is the mean of the per-session means (each boot weighs the same; it equals the plain
  sample mean when every session has the same number of repeats).
- ``ci95min``/``ci95max`` bound the 95% Student-t confidence interval of that mean computed
  over the per-session means: ``mean +- t(0.975, sessions-1) * sd(session means) / sqrt(sessions)``.
  With a single session there is nothing to replicate over, so the interval falls back to the
  t-interval over the samples of that boot (``count-1`` degrees of freedom) and ``basis`` says
  ``"samples"``; such an interval only covers within-boot noise and is flagged in every output.
  With a single sample there is no interval (``None``, ``basis == "none"``).
- ``min``, ``max``, ``count`` and ``cv`` (sample standard deviation / mean, ddof=1) describe all
  samples, flat.
- ``stddev_pct`` (lkp's %stddev) is the spread over sessions: sd of the session means / |mean|
  in %; None with a single session.

Sessions that ran in one boot (the same boot id: a plan without a kernel does not reboot) are
not independent replications. The caller merges them into one unit first (``merge_units``):
the statistics then run over **boots**, ``Summary.boots`` counts them and ``Summary.sessions``
still counts the sessions. Where every session is its own boot the two are equal.

A candidate is compared with a baseline by ``change_pct`` (relative change of the means, in %)
and Welch's unequal-variance t-test, two-sided, at alpha 0.05, over per-session (per-boot)
means, when both sides have at least two boots (``basis "sessions"``). The 95% interval of
the change is Welch's interval of the difference of the means (Welch-Satterthwaite df) divided
by |baseline mean|, in % (the baseline mean is taken as exact there). With fewer than two
boots on a side there is no test, no interval and no mark (``basis "none"``): a test over the
samples of one boot treats correlated repeats as independent and marks unchanged kernels as
changed (37-67% false alarms measured in docs/results.md).

Welch's test is used because the two kernels need not share a variance (a regression often
changes the noise too) and it is exact-enough for the small, roughly normal session means
the central limit theorem gives. A significant difference is an ``"R"`` (regression) when it
goes the wrong way for the result class's direction (a higher-is-better value went down, a
lower-is-better value went up), an ``"I"`` (improvement) otherwise; so an improvement is never
reported as a regression.

**Several SUTs** (a pool of identical machines still differs in level: one runs 2% faster).
When the two kernels' sessions come from several SUTs, ``compare_by_sut`` treats the SUT as a
factor rather than as noise: the per-boot means are fitted by the two-way additive model
``y = kernel + SUT + e`` (ordinary least squares, one residual variance). With two kernels
its kernel estimate is exactly the stratified one, the per-SUT differences ``d_s`` (candidate
mean - baseline mean on SUT s) combined with inverse-variance weights
``w_s = n_base,s * n_cand,s / (n_base,s + n_cand,s)``; SUTs that ran one kernel only do not
inform it (their sessions only add to the residual variance). The residual variance is the
within-cell sum of squares plus the lack of additivity ``sum w_s (d_s - d)^2``, over
``boots - SUTs - 1`` degrees of freedom; the t-test and the 95% interval of ``d`` run on it,
so they measure within-SUT noise only (``basis "sut"``). The change is in % of the baseline's
level on the same SUTs, ``sum w_s mean_base,s / sum w_s``. ``sut_interaction_p`` (an F test
of the SUT x kernel interaction, two or more shared SUTs) says whether the change differs
between the SUTs. When no SUT ran both kernels, SUT and kernel are confounded: there is
nothing to adjust with, and the comparison falls back to the pooled Welch test, flagged
``confounded``. With one SUT in all, ``compare_by_sut`` is ``compare``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import fdtrc, stdtr, stdtrit  # t CDF, its inverse, F tail (no scipy.stats)

CONFIDENCE = 0.95
ALPHA = 0.05
HIGHER = "higher"
LOWER = "lower"
SESSIONS = "sessions"
SAMPLES = "samples"
NONE = "none"
SUT = "sut"                      # comparison basis: the kernel + SUT model over session means


@dataclass(frozen=True)
class Summary:
    """Statistics of one result class for one swprofile (see the module docstring)."""

    count: int                    # samples
    sessions: int                 # distinct sessions counted
    min: float
    max: float
    mean: float                   # mean of per-session means
    ci95min: float | None         # 95% CI of the mean; None with a single sample
    ci95max: float | None
    cv: float | None              # sample sd / |sample mean| over all samples; None if count < 2
    basis: str                    # what the CI is over: "sessions", "samples" or "none"
    session_means: tuple[float, ...]  # one per boot (per session), in session order
    sample_mean: float
    sample_sd: float              # ddof=1; nan when count < 2
    session_sd: float             # sd of the session (boot) means, ddof=1; nan when boots < 2
    boots: int = 0                # independent units the statistics run over (0: = sessions)

    def __post_init__(self):
        if not self.boots:
            object.__setattr__(self, "boots", self.sessions)

    @property
    def stddev_pct(self) -> float | None:
        """lkp's %stddev: sd of the session (boot) means / |mean|, in %; None below 2 boots."""
        if self.boots < 2 or self.mean == 0:
            return None
        return self.session_sd / abs(self.mean) * 100.0


@dataclass(frozen=True)
class Comparison:
    """A candidate swprofile against the baseline, for one result class."""

    change_pct: float | None      # (candidate.mean - baseline.mean) / |baseline.mean| * 100
    p_value: float | None         # Welch's t-test, two-sided; None when no test is possible
    significance: str | None      # "R", "I" or None
    basis: str                    # "sessions" (the test ran over session means) or "none"
    ci95min: float | None = None  # 95% interval of change_pct (Welch); None without a test
    ci95max: float | None = None
    suts: tuple[str, ...] = ()    # basis "sut": the SUTs that ran both kernels (the adjustment)
    confounded: bool = False      # several SUTs, none ran both kernels: pooled, SUT = kernel
    sut_interaction_p: float | None = None   # basis "sut": F test, change differs by SUT


def mean_ci(values, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Student-t confidence interval of the mean of ``values``; None for fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        return None
    mean = float(x.mean())
    half = _t_half_width(float(x.std(ddof=1)), n, confidence)
    return mean - half, mean + half


def _t_half_width(sd: float, n: int, confidence: float) -> float:
    if sd == 0.0:
        return 0.0
    return float(stdtrit(n - 1, 0.5 + confidence / 2)) * sd / math.sqrt(n)


def session_means(values, sessions) -> np.ndarray:
    """Mean of ``values`` per distinct session id, ordered by session id."""
    return session_aggregates(values, sessions)[1]


def session_aggregates(values, sessions) -> tuple[np.ndarray, ...]:
    """Per distinct session id (in id order): count, mean, M2 (sum of squared deviations from
    the session's mean, two-pass), min and max."""
    v = np.asarray(values, dtype=float)
    ids = np.asarray(sessions)
    if ids.size > 1 and not np.all(ids[1:] >= ids[:-1]):
        order = np.argsort(ids, kind="stable")
        v, ids = v[order], ids[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    n = np.diff(np.r_[starts, ids.size])
    mean = np.add.reduceat(v, starts) / n
    m2 = np.add.reduceat((v - np.repeat(mean, n)) ** 2, starts)
    return n, mean, m2, np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts)


def summarize(values, sessions, confidence: float = CONFIDENCE) -> Summary:
    """Summarise the samples of one result class of one swprofile.

    ``values[i]`` was recorded in session ``sessions[i]`` (any hashable, sortable ids).
    """
    if np.asarray(values).size == 0:
        raise ValueError("summarize() needs at least one sample")
    return summarize_sessions(*session_aggregates(values, sessions), confidence=confidence)


def summarize_sessions(counts, means, m2s, mins, maxs, confidence: float = CONFIDENCE,
                       sessions: int | None = None) -> Summary:
    """The same Summary from per-session aggregates (one entry per session, in session order):
    sample count, mean, M2 (sum of squared deviations from that session's mean), min, max.
    When the entries are boots merged from more sessions (``merge_units``), ``sessions`` is
    how many sessions they hold.

    This is what a store can compute in SQL (M2 = sum(v*v) - sum(v)^2/n) without shipping
    every sample; the samples' spread is recombined exactly (Chan et al.'s pairwise formula).
    """
    n = np.asarray(counts, dtype=np.int64)
    means = np.asarray(means, dtype=float)
    total = int(n.sum())
    if total == 0:
        raise ValueError("summarize_sessions() needs at least one sample")
    sample_mean = float((n * means).sum() / total)
    m2 = float(np.sum(m2s) + (n * (means - sample_mean) ** 2).sum())
    sample_sd = math.sqrt(max(m2, 0.0) / (total - 1)) if total > 1 else math.nan
    session_sd = float(means.std(ddof=1)) if means.size > 1 else math.nan
    mean = float(means.mean())
    if means.size >= 2:
        basis, half = SESSIONS, _t_half_width(session_sd, means.size, confidence)
    elif total >= 2:
        basis, half = SAMPLES, _t_half_width(sample_sd, total, confidence)
    else:
        basis, half = NONE, None
    cv = sample_sd / abs(sample_mean) if total > 1 and sample_mean != 0 else None
    return Summary(
        count=total, sessions=int(means.size if sessions is None else sessions),
        boots=int(means.size), min=float(np.min(mins)), max=float(np.max(maxs)),
        mean=mean, ci95min=None if half is None else mean - half,
        ci95max=None if half is None else mean + half, cv=cv, basis=basis,
        session_means=tuple(float(m) for m in means), sample_mean=sample_mean,
        sample_sd=sample_sd, session_sd=session_sd)


def merge_units(units, counts, means, m2s, mins, maxs) -> tuple[np.ndarray, ...]:
    """Merge per-session aggregates that belong to one unit (e.g. sessions sharing a boot id).

    ``units[i]`` is the unit of session i (any hashable). Returns (counts, means, m2s, mins,
    maxs), one entry per unit in the order of its first session; the M2 of a unit combines its
    sessions' M2 exactly (Chan et al.). Sessions with distinct units come back unchanged.
    """
    order: dict = {}
    codes = np.fromiter((order.setdefault(u, len(order)) for u in units), dtype=np.int64)
    n = np.asarray(counts, dtype=np.int64)
    means = np.asarray(means, dtype=float)
    if len(order) == codes.size:
        return n, means, np.asarray(m2s, dtype=float), np.asarray(mins, float), np.asarray(maxs, float)
    k = len(order)
    cnt = np.bincount(codes, weights=n, minlength=k)
    mean = np.bincount(codes, weights=n * means, minlength=k) / cnt
    m2 = (np.bincount(codes, weights=np.asarray(m2s, dtype=float), minlength=k)
          + np.bincount(codes, weights=n * (means - mean[codes]) ** 2, minlength=k))
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    np.minimum.at(lo, codes, np.asarray(mins, dtype=float))
    np.maximum.at(hi, codes, np.asarray(maxs, dtype=float))
    return cnt.astype(np.int64), mean, m2, lo, hi


def change_pct(baseline_mean: float, candidate_mean: float) -> float | None:
    """Relative change of the candidate's mean from the baseline's, in %; None if baseline is 0."""
    if baseline_mean == 0:
        return None
    return (candidate_mean - baseline_mean) / abs(baseline_mean) * 100.0


def welch(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int,
          confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Welch's t-test from summary statistics (n1, n2 >= 2): the two-sided p-value and the
    ``confidence`` interval of mean2 - mean1, as (p, low, high).

    t = (mean2 - mean1) / sqrt(sd1^2/n1 + sd2^2/n2) with Welch-Satterthwaite degrees of
    freedom. When both sides have zero spread the difference is certain: p is 0 if the means
    differ and 1 if they are equal, and the interval is the difference itself.
    """
    v1, v2 = sd1 * sd1 / n1, sd2 * sd2 / n2
    se2 = v1 + v2
    diff = mean2 - mean1
    if se2 == 0:
        return (1.0 if mean1 == mean2 else 0.0), diff, diff
    se = math.sqrt(se2)
    df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    half = float(stdtrit(df, 0.5 + confidence / 2)) * se
    return float(2.0 * stdtr(df, -abs(diff / se))), diff - half, diff + half


def welch_p(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int) -> float:
    """Two-sided p-value of Welch's t-test from summary statistics (n1, n2 >= 2)."""
    return welch(mean1, sd1, n1, mean2, sd2, n2)[0]


def comparison_basis(baseline: Summary, candidate: Summary) -> str:
    """What the significance test runs over: "sessions" (both sides have two boots or more)
    or "none" (no test)."""
    return SESSIONS if baseline.boots >= 2 and candidate.boots >= 2 else NONE


def significance(change: float | None, p_value: float | None, improvement: str,
                 alpha: float = ALPHA) -> str | None:
    """"R", "I" or None for a change with a p-value, by the result class's direction."""
    if change is None or p_value is None or p_value >= alpha or change == 0:
        return None
    if improvement not in (HIGHER, LOWER):
        raise ValueError(f"improvement must be {HIGHER!r} or {LOWER!r}, not {improvement!r}")
    worse = change < 0 if improvement == HIGHER else change > 0
    return "R" if worse else "I"


def compare(baseline: Summary, candidate: Summary, improvement: str,
            alpha: float = ALPHA) -> Comparison:
    """Compare a candidate's summary with the baseline's (see the module docstring)."""
    change = change_pct(baseline.mean, candidate.mean)
    basis = comparison_basis(baseline, candidate)
    if basis != SESSIONS:
        return Comparison(change_pct=change, p_value=None, significance=None, basis=basis)
    p, lo, hi = welch(baseline.mean, baseline.session_sd, baseline.boots,
                      candidate.mean, candidate.session_sd, candidate.boots, CONFIDENCE)
    return _tested(change, p, lo, hi, baseline.mean, improvement, alpha, basis)


def _tested(change, p, lo, hi, reference: float, improvement: str, alpha: float, basis: str,
            **more) -> Comparison:
    """A Comparison with a test: the interval (lo, hi) of the difference, in the units of
    the values, as % of ``reference`` (the baseline's level)."""
    scale = 100.0 / abs(reference) if reference != 0 else None
    return Comparison(change_pct=change, p_value=p,
                      significance=significance(change, p, improvement, alpha), basis=basis,
                      ci95min=None if scale is None else lo * scale,
                      ci95max=None if scale is None else hi * scale, **more)


def compare_samples(baseline_values, baseline_sessions, candidate_values, candidate_sessions,
                    improvement: str, alpha: float = ALPHA) -> Comparison:
    """compare() straight from raw samples and their session ids (for callers without a store)."""
    return compare(summarize(baseline_values, baseline_sessions),
                   summarize(candidate_values, candidate_sessions), improvement, alpha)


def compare_by_sut(baseline: Mapping[str, Summary], candidate: Mapping[str, Summary],
                   improvement: str, alpha: float = ALPHA) -> Comparison:
    """Compare a candidate with the baseline when their sessions come from several SUTs:
    ``baseline[sut]`` and ``candidate[sut]`` are each kernel's Summary on that SUT (its
    ``session_means`` are the per-boot means). The kernel + SUT additive model of the module
    docstring; one SUT in all: ``compare``; no SUT shared: the pooled Welch comparison with
    ``confounded`` set."""
    every = sorted(set(baseline) | set(candidate))
    base_all = _pooled(baseline.values())
    cand_all = _pooled(candidate.values())
    if len(every) == 1:
        return compare(base_all, cand_all, improvement, alpha)
    shared = [s for s in every if s in baseline and s in candidate]
    if not shared:
        return dataclasses.replace(compare(base_all, cand_all, improvement, alpha),
                                   confounded=True)
    fit = additive_fit([baseline.get(s) for s in every], [candidate.get(s) for s in every])
    ref = fit.baseline_level
    change = change_pct(ref, ref + fit.difference)
    if comparison_basis(base_all, cand_all) != SESSIONS or fit.df < 1:
        return Comparison(change_pct=change, p_value=None, significance=None, basis=NONE,
                          suts=tuple(shared))
    p, lo, hi = fit.test(CONFIDENCE)
    return _tested(change, p, lo, hi, ref, improvement, alpha, SUT, suts=tuple(shared),
                   sut_interaction_p=fit.interaction_p())


@dataclass(frozen=True)
class AdditiveFit:
    """The kernel + SUT model over session means (see ``additive_fit``)."""

    difference: float             # candidate - baseline, within SUTs
    weight: float                 # sum of w_s: Var(difference) = sigma^2 / weight
    baseline_level: float         # the baseline's mean on the shared SUTs, same weights
    rss: float                    # residual sum of squares of the additive model
    df: int                       # its degrees of freedom: boots - SUTs - 1
    within_ss: float              # the within-cell part of rss
    within_df: int                # boots - cells
    shared: int                   # SUTs that ran both kernels

    def test(self, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
        """Two-sided t-test of the difference and its ``confidence`` interval: (p, low, high)."""
        d = self.difference
        se2 = self.rss / self.df / self.weight
        if se2 <= 0:
            return (1.0 if d == 0 else 0.0), d, d
        se = math.sqrt(se2)
        half = float(stdtrit(self.df, 0.5 + confidence / 2)) * se
        return float(2.0 * stdtr(self.df, -abs(d / se))), d - half, d + half

    def interaction_p(self) -> float | None:
        """F test of SUT x kernel (does the change differ between the shared SUTs?); None
        with one shared SUT, no within-cell replication or no within-cell spread."""
        if self.shared < 2 or self.within_df < 1 or self.within_ss <= 0:
            return None
        dfi = self.shared - 1
        f = ((self.rss - self.within_ss) / dfi) / (self.within_ss / self.within_df)
        return float(fdtrc(dfi, self.within_df, max(f, 0.0)))


def additive_fit(baseline, candidate) -> AdditiveFit:
    """Fit ``y = kernel + SUT + e`` over the session means: ``baseline[j]`` and
    ``candidate[j]`` are the two kernels' Summaries on SUT j (None where that kernel did not
    run there); at least one SUT must have both. Closed form (two kernels): the OLS kernel
    effect is the inverse-variance weighted mean of the per-SUT differences."""
    wsum = dsum = lsum = within = 0.0
    boots = cells = suts = shared = 0
    diffs = []
    for b, c in zip(baseline, candidate):
        present = [np.asarray(x.session_means, dtype=float) for x in (b, c) if x is not None]
        if not present:
            continue
        suts += 1
        for x in present:
            boots += x.size
            cells += 1
            within += float(((x - x.mean()) ** 2).sum())
        if b is not None and c is not None:
            shared += 1
            nb, nc = len(b.session_means), len(c.session_means)
            mb, mc = float(np.mean(b.session_means)), float(np.mean(c.session_means))
            w = nb * nc / (nb + nc)
            wsum, dsum, lsum = wsum + w, dsum + w * (mc - mb), lsum + w * mb
            diffs.append((w, mc - mb))
    if not shared:
        raise ValueError("additive_fit() needs a SUT with sessions of both kernels")
    d = dsum / wsum
    rss = within + sum(w * (x - d) ** 2 for w, x in diffs)
    return AdditiveFit(difference=d, weight=wsum, baseline_level=lsum / wsum, rss=rss,
                       df=boots - suts - 1, within_ss=within, within_df=boots - cells,
                       shared=shared)


def _pooled(summaries) -> Summary:
    parts = list(summaries)
    return parts[0] if len(parts) == 1 else pool_summaries(parts)


def pool_summaries(parts) -> Summary:
    """The Summary of every boot of ``parts`` (Summaries of one kernel on several SUTs) as if
    one machine: what the kernel's own columns show. The samples' spread is recombined from
    each part's count, sample mean and sd (Chan et al.)."""
    parts = list(parts)
    means = np.concatenate([np.asarray(s.session_means, dtype=float) for s in parts])
    total = sum(s.count for s in parts)
    sample_mean = sum(s.count * s.sample_mean for s in parts) / total
    m2 = sum((s.sample_sd ** 2 * (s.count - 1) if s.count > 1 else 0.0)
             + s.count * (s.sample_mean - sample_mean) ** 2 for s in parts)
    pooled = summarize_sessions(np.ones(means.size, dtype=np.int64), means,
                                np.zeros(means.size), means, means,
                                sessions=sum(s.sessions for s in parts))
    sample_sd = math.sqrt(max(m2, 0.0) / (total - 1)) if total > 1 else math.nan
    cv = sample_sd / abs(sample_mean) if total > 1 and sample_mean != 0 else None
    return dataclasses.replace(pooled, count=total, min=min(s.min for s in parts),
                               max=max(s.max for s in parts), sample_mean=sample_mean,
                               sample_sd=sample_sd, cv=cv)
