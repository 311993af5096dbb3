"""The bisection engine's model of a whole range, pure (numpy, no I/O).

Commits ``0..N`` in history order: 0 the good end, N the bad end. The benchmark's level is
piecewise constant along them; a *change point* sits between a commit and its parent. Only
commits with sessions carry data, so the model works on the *points* (tested commits, the
two ends always among them) and the *gaps* between neighbouring points: a change in gap j
means the first commit of a new level is one of the ``width`` commits after point j, up to
and including point j+1, each equally likely.

A *segmentation* says which gaps hold a change; each segment (a run of points without a
change between them) has its own mean and its own noise, with a conjugate Normal-Inverse-Gamma
prior (so the noise may differ on the two sides of a change). The prior puts a change in
each commit with probability ``1 / N`` (one change expected in the range). Summing over
every segmentation is a forward-backward recursion over the points (Fearnhead's exact
change-point posterior), O(points^2) per fit.

Values are oriented before they get here: larger is worse. Three refinements make it robust
to what real machines do:

- **Wild boots.** A session far from where its commit's level must be (a contaminated
  likelihood: a share ``wild_share`` of boots come from anywhere in a wide band) is left out
  of its segment's statistics. A commit whose own sessions agree with each other far
  outside its neighbours' levels is not wild: it is evidence of a level of its own (an
  improvement in the range, a culprit that overshoots), and the segmentation gets one.
- **Drift.** The machine's level may wander or step with time. Residuals of every session
  against its commit's level, smoothed over the session clock (a Gaussian kernel, shrunk
  towards 0 where few sessions are near), are the drift; values are corrected by it before
  the segments are fitted. Sessions of the ends re-measured now and then (the engine does
  that) are what make drift visible.
- **SUTs.** Sessions from a pool of identical SUTs may still sit at slightly different
  levels per machine. Each SUT's offset is the mean residual of its sessions, shrunk towards
  0 (``sut_shrink`` pseudo-sessions), and is removed like the drift, so two machines' levels
  are a factor of the model rather than noise. With one SUT (or none named) there is none.
- **Noise scale.** The prior's noise scale is the robust spread of sessions around their
  own commit's median, pooled over commits (empirical Bayes), so a handful of sessions on
  one commit cannot claim a tiny noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, ndtr

LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class ModelParams:
    change_prior: float = 0.1       # expected number of change points in the range, a priori
    kappa0: float = 0.01            # prior weight of a segment's mean (in sessions): weak
    alpha0: float = 2.0             # prior shape of a segment's noise variance (2*alpha0 pseudo-sessions)
    wild_share: float = 0.03        # share of wild boots in the contaminated likelihood
    wild_band: float = 30.0         # a wild boot lands anywhere in this many noise sds
    own_level_sessions: int = 3     # sessions of a commit that must agree before it gets a level of its own
    drift_bandwidth: float = 8.0    # sessions: the drift smoother's kernel sd
    drift_shrink: float = 6.0       # pseudo-sessions of "no drift" in the smoother
    drift: bool = True
    sut_shrink: float = 3.0         # pseudo-sessions of "no offset" in each SUT's offset
    materiality: float = 0.3        # a change is material when worse by this share of bad - good
    some_change: bool = True        # the range holds at least one change (bisect start showed the ends differ)


@dataclass
class Fit:
    """What the model says after one fit. Arrays over points (``points``) or gaps (between
    point j and j+1)."""
    points: np.ndarray              # commit index of each point (sorted; 0 and N included)
    level: np.ndarray               # posterior mean level at each point (drift removed)
    level_sd: np.ndarray            # posterior sd of that level
    noise: np.ndarray               # posterior noise sd at each point
    change: np.ndarray              # P(a change in gap j)
    step: np.ndarray                # E[level after - level before | change in gap j]
    step_sd: np.ndarray
    material: np.ndarray            # P(a change in gap j that makes it materially worse than good)
    improve: np.ndarray             # P(a change in gap j that makes it materially better)
    alone: np.ndarray               # P(point j is a segment of its own)
    wild: np.ndarray                # per session: left out as a wild boot
    drift: np.ndarray               # per session: the drift removed from its value
    gap: float                      # E[level(N) - level(0)]
    gap_sd: float
    scale: float                    # the pooled noise scale (prior)
    log_evidence: float = 0.0
    sut: np.ndarray | None = None   # per session: its SUT's offset, removed from its value (beside the drift)

    @property
    def correction(self) -> np.ndarray:
        """Per session: all that was removed from its value (drift and its SUT's offset)."""
        return self.drift if self.sut is None else self.drift + self.sut

    @property
    def width(self) -> np.ndarray:
        return np.diff(self.points)


def _robust_scale(index: np.ndarray, y: np.ndarray) -> float:
    """Pooled robust spread of sessions around their own commit's mean: each deviation
    divided by sqrt(1 - 1/n) (its sd is that share of the noise), then 1.4826 MAD; the plain
    pooled sd where the MAD is 0 (quantised values). NaN when no commit has two sessions."""
    dev = []
    for i in np.unique(index):
        v = y[index == i]
        if len(v) >= 2:
            dev.append((v - v.mean()) / math.sqrt(1 - 1 / len(v)))
    if not dev:
        return float("nan")
    d = np.concatenate(dev)
    mad = float(np.median(np.abs(d))) * 1.4826
    if mad <= 0:
        return float(np.sqrt(np.mean(d ** 2)))
    # Winsorised at 2.5 MADs (0.955: E[min(Z^2, 2.5^2)] for normal noise): steadier than
    # the MAD on few sessions, still blind to wild boots.
    return float(np.sqrt(np.mean(np.minimum(d ** 2, (2.5 * mad) ** 2)) / 0.955))


def _segments(n, s1, s2, mu0, p: ModelParams, beta0):
    """Log marginal likelihood, posterior mean, variance of the mean and noise variance of
    every segment [a, b] (matrices indexed [a, b], valid for a <= b)."""
    cn, c1, c2 = (np.concatenate([[0.0], np.cumsum(x)]) for x in (n, s1, s2))
    sn = cn[None, 1:] - cn[:-1, None]
    ss1 = c1[None, 1:] - c1[:-1, None]
    ss2 = c2[None, 1:] - c2[:-1, None]
    upper = np.triu(np.ones_like(sn, dtype=bool))
    sn, ss1, ss2 = (np.where(upper, x, 0.0) for x in (sn, ss1, ss2))
    k0, a0 = p.kappa0, p.alpha0
    kn = k0 + sn
    mun = (k0 * mu0 + ss1) / kn
    an = a0 + sn / 2
    bn = beta0 + 0.5 * (ss2 + k0 * mu0 ** 2 - kn * mun ** 2)
    bn = np.maximum(bn, beta0 * 1e-6)
    logml = (gammaln(an) - gammaln(a0) + a0 * math.log(beta0) - an * np.log(bn)
             + 0.5 * np.log(k0 / kn) - sn / 2 * LOG2PI)
    noise_var = bn / (an - 1)
    mean_var = noise_var / kn
    logml = np.where(upper, logml, -np.inf)
    return logml, mun, mean_var, noise_var


def _lse(x: np.ndarray) -> float:
    top = x.max()
    if not np.isfinite(top):
        return float(top)
    return float(top + math.log(np.exp(x - top).sum()))


def _recursion(logml, logq, log1q):
    """Forward-backward over segmentations. logq[j], log1q[j]: log P(change) and log P(no
    change) in gap j (j < M-1). Returns the log posterior of every segment [a, b]."""
    m = logml.shape[0]
    # logS[a, b] = sum of log1q over gaps a..b-1 (no change inside the segment)
    c = np.concatenate([[0.0], np.cumsum(log1q)])
    logs = c[None, :m] - c[:m, None]
    enter = np.concatenate([[0.0], logq])        # log P(change before point a); 0 for a = 0
    leave = np.concatenate([logq, [0.0]])        # log P(change after point b); 0 for b = M-1
    seg = logml + logs
    fwd = np.full(m + 1, -np.inf)                # fwd[k+1]: all segmentations of points 0..k ending at k
    fwd[0] = 0.0
    for k in range(m):
        fwd[k + 1] = _lse(fwd[:k + 1] + enter[:k + 1] + seg[:k + 1, k])
    bwd = np.full(m + 1, -np.inf)                # bwd[a]: segmentations of points a..M-1 starting at a
    bwd[m] = 0.0
    for a in range(m - 1, -1, -1):
        bwd[a] = _lse(seg[a, a:] + leave[a:] + bwd[a + 1:])
    z = fwd[m]
    post = fwd[:m, None] + enter[:, None] + seg + leave[None, :] + bwd[None, 1:] - z
    post = np.where(np.isfinite(seg), post, -np.inf)
    # log of the joint "segment [a, j], a change, segment [j+1, b]" is left[a, j] + right[j+1, b]
    left = fwd[:m, None] + enter[:, None] + seg - z
    right = seg + leave[None, :] + bwd[None, 1:]
    return post, z, left, right


def fit(n_commits: int, index, y, clock, p: ModelParams = ModelParams(), scale_hint: float | None = None,
        sut=None) -> Fit:
    """Fit the model to sessions (``index``: commit of each session, ``y``: its oriented
    value, ``clock``: when it was taken, in sessions; ``sut``: which SUT took it, a small
    integer, or None when one SUT took them all). Both ends must have sessions."""
    index = np.asarray(index, dtype=int)
    sut = None if sut is None or len(set(sut)) < 2 else np.asarray(sut, dtype=int)
    y = np.asarray(y, dtype=float)
    clock = np.asarray(clock, dtype=float)
    last = n_commits - 1
    if not (np.any(index == 0) and np.any(index == last)):
        raise ValueError("both ends need sessions")
    scale = _robust_scale(index, y)
    if not math.isfinite(scale) or scale <= 0:
        scale = scale_hint if scale_hint else max(float(np.std(y)), 1e-9)
    scale = max(scale, 1e-9 * max(1.0, float(np.max(np.abs(y)))))
    wild = np.zeros(len(y), dtype=bool)
    drift = np.zeros(len(y))
    offset = np.zeros(len(y))
    result = None
    for it in range(10 if sut is not None else 3):
        corrected = y - drift - offset
        result = _fit_once(n_commits, index, corrected, wild, p, scale)
        new_wild = _wild(index, corrected, result, p, scale)
        new_drift = _drift(index, y - offset, clock, new_wild, result, p) if p.drift else drift
        new_offset = _offsets(index, y - new_drift, sut, new_wild, result, p) if sut is not None else offset
        if (np.array_equal(new_wild, wild) and np.allclose(new_drift, drift, atol=1e-3 * scale)
                and np.allclose(new_offset, offset, atol=1e-3 * scale)):
            break
        wild, drift, offset = new_wild, new_drift, new_offset
    result.wild = wild
    result.drift = drift
    result.sut = offset if sut is not None else None
    return result


def _residuals(index, y, wild, f: Fit) -> tuple[np.ndarray, np.ndarray]:
    """(each session's value less its commit's level, which sessions count: kept ones of
    commits with at least two kept sessions, whose level is not that one session)."""
    keep = ~wild
    pos = np.minimum(np.searchsorted(f.points, index), len(f.points) - 1)
    has = keep & (f.points[pos] == index)
    resid = np.where(has, y - f.level[pos], 0.0)
    counts = np.bincount(index[has], minlength=int(index.max()) + 1)
    return resid, has & (counts[index] >= 2)


def _offsets(index, y, sut, wild, f: Fit, p: ModelParams) -> np.ndarray:
    """Per session: its SUT's offset, the mean residual of that SUT's sessions shrunk
    towards 0 by ``sut_shrink`` pseudo-sessions; relative, like the drift (the levels absorb
    the mean)."""
    resid, has = _residuals(index, y, wild, f)
    if has.sum() < 4:
        return np.zeros(len(y))
    groups = int(sut.max()) + 1
    total = np.bincount(sut[has], weights=resid[has], minlength=groups)
    count = np.bincount(sut[has], minlength=groups)
    est = (total / (count + p.sut_shrink))[sut]
    return est - float(np.mean(est[has]))


def _fit_once(n_commits, index, y, wild, p: ModelParams, scale) -> Fit:
    keep = ~wild
    points = np.unique(np.concatenate([[0, n_commits - 1], index[keep]]))
    m = len(points)
    pos = np.searchsorted(points, index)
    n = np.bincount(pos[keep], minlength=m).astype(float)
    s1 = np.bincount(pos[keep], weights=y[keep], minlength=m)
    s2 = np.bincount(pos[keep], weights=y[keep] ** 2, minlength=m)
    mu0 = float(np.median(y[keep]))
    beta0 = p.alpha0 * scale ** 2
    logml, mun, mean_var, noise_var = _segments(n, s1, s2, mu0, p, beta0)
    if p.some_change and m >= 2:
        logml[0, m - 1] = -np.inf                              # not one level over the whole range
    width = np.diff(points).astype(float)
    rate = min(p.change_prior / max(n_commits - 1, 1), 0.5)
    log1q = width * math.log1p(-rate)
    logq = np.log(-np.expm1(log1q))
    post, z, left, right = _recursion(logml, logq, log1q)
    prob = np.exp(post)                                       # P(segment [a, b])
    # Level at each point k: mixture over the segments [a, b] with a <= k <= b (2-D prefix sums).
    tot = _covering(prob)
    level = _covering(prob * mun) / tot
    level_var = _covering(prob * (mean_var + mun ** 2)) / tot - level ** 2
    noise = np.sqrt(_covering(prob * noise_var) / tot)
    # Gap j: the segment ending at j and the one starting at j+1 (independent given the change).
    lw = prob[:, :-1]                                          # [a, j]: segment [a, j]
    rw = prob[1:, :]                                           # [j, b]: segment [j+1, b]
    change = lw.sum(axis=0)
    lsum, rsum = np.maximum(change, 1e-300), np.maximum(rw.sum(axis=1), 1e-300)
    le = (lw * mun[:, :-1]).sum(axis=0) / lsum
    lv = (lw * (mean_var[:, :-1] + mun[:, :-1] ** 2)).sum(axis=0) / lsum - le ** 2
    re = (rw * mun[1:, :]).sum(axis=1) / rsum
    rv = (rw * (mean_var[1:, :] + mun[1:, :] ** 2)).sum(axis=1) / rsum - re ** 2
    step, step_var = re - le, np.maximum(lv, 0) + np.maximum(rv, 0)
    level_var = np.maximum(level_var, 0)
    gap = float(level[-1] - level[0])
    gap_sd = float(math.sqrt(level_var[-1] + level_var[0]))
    step_sd = np.sqrt(step_var)
    # Material: worse than its parent by a share of the regression, and worse than good by as much.
    floor = p.materiality * max(gap, 0.0)
    if gap > 0:
        material, improve = _material(left, right, logq, mun, mean_var, level[0], level_var[0], floor,
                                      0.0)
    else:
        material = improve = np.zeros_like(change)
    alone = np.diagonal(prob).copy()
    return Fit(points=points, level=level, level_sd=np.sqrt(level_var), noise=noise, change=change,
               step=step, step_sd=step_sd, material=material, improve=improve, alone=alone,
               wild=wild, drift=np.zeros(len(y)), gap=gap, gap_sd=gap_sd, scale=scale, log_evidence=float(z))


def _material(left, right, logq, mun, mean_var, good, good_var, floor, slack):
    """Per gap j: P(a change in gap j that makes it worse than its parent by ``floor`` and
    leaves it that much worse than ``good``), and P(a change that makes it better by
    ``floor``), summed over the joint of the segments on either side of the change (the
    step is judged within each pair of segments, not on the average levels)."""
    m = mun.shape[0]
    worse = np.zeros(m - 1)
    better = np.zeros(m - 1)
    for j in range(m - 1):
        lw = left[:j + 1, j]                     # segment [a, j] ending at the gap
        rw = right[j + 1, j + 1:]                # segment [j+1, b] starting after it
        joint = np.exp(lw[:, None] + logq[j] + rw[None, :])
        if not joint.any():
            continue
        lm, rm = mun[:j + 1, j][:, None], mun[j + 1, j + 1:][None, :]
        sd = np.sqrt(mean_var[:j + 1, j][:, None] + mean_var[j + 1, j + 1:][None, :] + slack ** 2)
        step = rm - lm
        up_sd = np.sqrt(mean_var[j + 1, j + 1:][None, :] + good_var + slack ** 2)
        worse[j] = float((joint * ndtr((step - floor) / sd) * ndtr((rm - good - floor) / up_sd)).sum())
        better[j] = float((joint * ndtr((-step - floor) / sd)).sum())
    return worse, better


def _covering(x: np.ndarray) -> np.ndarray:
    """For each k, the sum of x[a, b] over a <= k <= b."""
    c = np.cumsum(x, axis=0)                       # c[k, b] = sum over a <= k
    c = np.cumsum(c[:, ::-1], axis=1)[:, ::-1]     # then over b >= ...
    return np.diagonal(c).copy()


def _wild(index, y, f: Fit, p: ModelParams, scale) -> np.ndarray:
    """Sessions to leave out as wild boots (see the module's docstring)."""
    wild = np.zeros(len(y), dtype=bool)
    # z beyond which the contaminated likelihood prefers "wild": share/band vs the normal density.
    ratio = (1 - p.wild_share) * p.wild_band / (p.wild_share * math.sqrt(2 * math.pi))
    zc = math.sqrt(2 * math.log(max(ratio, 1.0 + 1e-9)))
    pts = f.points
    for i in np.unique(index):
        sel = np.flatnonzero(index == i)
        v = y[sel]
        j = int(np.searchsorted(pts, i))
        here = j < len(pts) and pts[j] == i
        # The segment's noise, but never more than the pooled robust scale: wild boots not
        # yet left out inflate their segment's noise and would hide themselves.
        sd = min(float(f.noise[j]), scale) if here else scale
        sd = max(sd, 0.5 * scale)
        # The levels this commit could have, leaving its own sessions out: its neighbours'.
        lo = j - 1 if here else j - 1
        hi = j + 1 if here else j
        nb = [float(f.level[k]) for k in (lo, hi) if 0 <= k < len(pts)]
        if len(v) >= p.own_level_sessions or i in (pts[0], pts[-1]):
            med = float(np.median(v))
            spread = max(sd, scale)
            wild[sel] = np.abs(v - med) / spread > zc
        elif len(v) == 2 and abs(v[0] - v[1]) > zc * sd * math.sqrt(2) and nb:
            far = [min(abs(x - q) for q in nb) for x in v]
            wild[sel[int(np.argmax(far))]] = True
        elif nb:
            for k, x in zip(sel, v):
                if min(abs(x - q) for q in nb) / sd > zc:
                    wild[k] = True
    return wild


def _drift(index, y, clock, wild, f: Fit, p: ModelParams) -> np.ndarray:
    """The machine's drift at each session's time: its residuals against its commit's level,
    smoothed over the session clock and shrunk towards 0 where few sessions are near."""
    # A commit with a single session says nothing about drift (its level is that session).
    resid, has = _residuals(index, y, wild, f)
    if has.sum() < 4:
        return np.zeros(len(y))
    t = clock
    d = (t[:, None] - t[None, has]) / p.drift_bandwidth
    k = np.exp(-0.5 * d * d)
    est = (k @ resid[has]) / (k.sum(axis=1) + p.drift_shrink)
    # Drift is relative: its mean over the kept sessions is absorbed by the levels.
    return est - float(np.mean(est[has]))
