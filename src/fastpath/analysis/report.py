"""From a result store to comparison rows: what `fastpath result show` prints.

    report = compare_swprofiles(store, ["6.1-baseline", "6.1-regression"],
                                benchmark="sysbench/*", resultclass="*")
    report.rows        # Row: benchmark, resultclass, unit, improvement, swprofile,
                       #      summary (stats.Summary), baseline, comparison (stats.Comparison)
    report.dicts()     # the `--format json` rows

The first swprofile is the baseline; every other swprofile's rows carry a Comparison with it
(statistics in fastpath.analysis.stats). ``build_rows`` (from grouped samples) and
``rows_from_summaries`` are the pure part, usable without a store. Rows come in natural order
of (benchmark, result class): bench2 before bench12.

Which sessions count (read from the store's sessions table):

- a session whose row says it did not complete (``failed``, or ``running``: interrupted or
  still going) is left out of the statistics; ``Row.incomplete_sessions`` and
  ``incomplete_samples`` say what was left out and ``Report.notes`` lists those sessions;
- sessions that share a boot id ran in one boot (a plan without a kernel does not reboot):
  they are merged into one unit (``stats.merge_units``), so the statistics run over boots and
  ``Summary.boots`` < ``Summary.sessions``; ``Report.notes`` lists them;
- a session with no row (samples brought by ``result import``) counts as complete and as its
  own boot.

Several SUTs (a pool): without ``sut`` every SUT's sessions count. A swprofile's own columns
(mean, %stddev, ci95, sessions) pool its SUTs (``stats.pool_summaries``); each comparison treats
the SUT as a factor (``stats.compare_by_sut``: the kernel + SUT additive model over session
means), so that one SUT being faster than another is not counted as noise; where no SUT ran
both swprofiles it falls back to the pooled test, flagged ``confounded``. ``Report.suts`` lists
the SUTs.

Every statistic comes from per-session aggregates (count, mean, M2, min, max; see
``stats.summarize_sessions``), so ``compare_swprofiles`` asks the store for those
(``Store.session_aggregates``: one GROUP BY in SQL) and never reads the samples themselves.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fastpath.analysis.group import Group
from fastpath.analysis.stats import (Comparison, Summary, compare, compare_by_sut, merge_units,
                                     pool_summaries, summarize, summarize_sessions)
from fastpath.errors import UserError
from fastpath.natsort import natural_key

CONTRACT_KEYS = ("benchmark", "resultclass", "unit", "swprofile", "min", "ci95min", "mean",
                 "ci95max", "max", "cv", "count")
COMPARISON_KEYS = ("baseline", "change_pct", "significance")
EXTRA_KEYS = ("sessions", "ci_basis", "boots", "stddev_pct", "change_ci95min", "change_ci95max",
              "p_value", "test_basis", "incomplete_sessions", "incomplete_samples")
KEYS = CONTRACT_KEYS + COMPARISON_KEYS + EXTRA_KEYS
COMPLETE = "complete"


def _sig(x: float | None) -> float | None:
    """Computed values to 12 significant digits: the same text from every backend."""
    return None if x is None else float(f"{x:.12g}")


@dataclass(frozen=True)
class ResultClassInfo:
    unit: str
    improvement: str              # "higher" or "lower"


@dataclass(frozen=True)
class Row:
    """One result class of one swprofile; ``comparison`` is set for non-baseline swprofiles."""

    benchmark: str
    resultclass: str
    unit: str
    improvement: str
    swprofile: str
    summary: Summary
    baseline: str | None = None
    comparison: Comparison | None = None
    incomplete_sessions: int = 0  # sessions left out (did not complete), with samples here
    incomplete_samples: int = 0   # their samples, not counted

    def as_dict(self) -> dict:
        """The interchange row (DESIGN.md section 3), then the comparison keys and the extra
        keys (``KEYS``, the same whatever the number of swprofiles; None where they do not
        apply, e.g. the comparison on the baseline's own rows); computed values rounded to
        12 significant digits."""
        s = self.summary
        c = self.comparison
        return {"benchmark": self.benchmark, "resultclass": self.resultclass, "unit": self.unit,
                "swprofile": self.swprofile, "min": s.min, "ci95min": _sig(s.ci95min),
                "mean": _sig(s.mean), "ci95max": _sig(s.ci95max), "max": s.max,
                "cv": _sig(s.cv), "count": s.count,
                "baseline": self.baseline, "change_pct": _sig(c.change_pct) if c else None,
                "significance": c.significance if c else None,
                "sessions": s.sessions, "ci_basis": s.basis, "boots": s.boots,
                "stddev_pct": _sig(s.stddev_pct),
                "change_ci95min": _sig(c.ci95min) if c else None,
                "change_ci95max": _sig(c.ci95max) if c else None,
                "p_value": _sig(c.p_value) if c else None,
                "test_basis": c.basis if c else None,
                "incomplete_sessions": self.incomplete_sessions,
                "incomplete_samples": self.incomplete_samples}


@dataclass(frozen=True)
class SessionNotes:
    """What `result show` says about one swprofile's sessions (see the module docstring)."""

    left_out: tuple[tuple[int | str, str], ...] = ()  # (session, status) not counted
    shared_boots: tuple[tuple[int | str, ...], ...] = ()  # counted sessions that ran in one boot
    # (several SUTs: a session is named "<session> on <SUT>")
    left_out_samples: int = 0                         # samples of the left-out sessions


@dataclass(frozen=True)
class Report:
    store: str                    # the store URL, password masked
    swprofiles: tuple[str, ...]   # the first is the baseline
    sut: str
    rows: tuple[Row, ...]
    notes: Mapping[str, SessionNotes] = field(default_factory=dict)   # by swprofile
    hidden: int = 0               # result classes left out by changed_only()
    suts: tuple[str, ...] = ()    # the SUTs the rows' sessions came from (``sut`` joins them)

    def dicts(self) -> list[dict]:
        return [r.as_dict() for r in self.rows]

    def changed_only(self) -> "Report":
        """The rows of the result classes where some swprofile is marked (R) or (I)."""
        changed = {(r.benchmark, r.resultclass) for r in self.rows
                   if r.comparison and r.comparison.significance}
        every = {(r.benchmark, r.resultclass) for r in self.rows}
        return dataclasses.replace(
            self, rows=tuple(r for r in self.rows if (r.benchmark, r.resultclass) in changed),
            hidden=self.hidden + len(every - changed))


def build_rows(groups: Mapping[str, Sequence[Group]], swprofiles: Sequence[str],
               resultclasses: Mapping[tuple[str, str], ResultClassInfo]) -> list[Row]:
    """Rows ordered by (benchmark, result class), then by swprofile as given.

    ``groups[swprofile]`` are that swprofile's groups (one SUT); ``resultclasses`` maps
    (benchmark, result class) to its unit and direction.
    """
    return rows_from_summaries(
        {sw: {(g.benchmark, g.resultclass): summarize(g.values, g.sessions)
              for g in groups.get(sw, ())} for sw in swprofiles}, swprofiles, resultclasses)


def rows_from_summaries(summaries: Mapping[str, Mapping[tuple[str, str], Summary]],
                        swprofiles: Sequence[str],
                        resultclasses: Mapping[tuple[str, str], ResultClassInfo],
                        left_out: Mapping[str, Mapping[tuple[str, str], tuple[int, int]]]
                        | None = None) -> list[Row]:
    """build_rows from ``summaries[swprofile][(benchmark, result class)]`` (one SUT);
    ``left_out[swprofile][key]`` is (sessions, samples) not counted there."""
    keys = sorted({k for per in summaries.values() for k in per},
                  key=lambda k: (natural_key(k[0]), natural_key(k[1])))
    left_out = left_out or {}
    base = swprofiles[0]
    rows = []
    for key in keys:
        info = resultclasses[key]
        present = {sw: s for sw in swprofiles if (s := summaries.get(sw, {}).get(key)) is not None}
        for sw, summary in present.items():
            comparison = None
            if sw != base and base in present:
                comparison = compare(present[base], summary, info.improvement)
            gone = left_out.get(sw, {}).get(key, (0, 0))
            rows.append(Row(key[0], key[1], info.unit, info.improvement, sw, summary,
                            baseline=base if sw != base else None, comparison=comparison,
                            incomplete_sessions=gone[0], incomplete_samples=gone[1]))
    return rows


def compare_swprofiles(store, swprofiles: Sequence[str], *, benchmark: str = "*",
                       resultclass: str = "*", sut: str | None = None) -> Report:
    """Summaries and comparisons for the given swprofiles of ``store`` (the first is the baseline).

    ``benchmark`` and ``resultclass`` are shell-style globs; ``sut`` keeps one SUT's samples.
    Without it, samples on several SUTs (a pool) are all counted: each swprofile's columns
    pool them, and each comparison treats the SUT as a factor (``rows_by_sut``). Raises
    UserError naming what is wrong: an empty store, an unknown swprofile or SUT, a glob that
    matches nothing, a swprofile with no matching samples.
    """
    url = getattr(store, "url", "the store")
    _check_ids(store, url, swprofiles, sut)
    infos = _matching_resultclasses(store, url, benchmark, resultclass)
    found, gone, notes = _summaries(store, swprofiles, sut, infos)
    for sw, per in found.items():
        if not per:
            dropped = sum(n for (*_, s), (_, n) in gone[sw].items() if not sut or s == sut)
            raise UserError(f"no samples for swprofile '{sw}' in store {url} with {{benchmark}} "
                            f"'{benchmark}' {{resultclass}} '{resultclass}'"
                            + (f" on SUT '{sut}'" if sut else "")
                            + (f" from complete sessions ({dropped} samples of incomplete "
                               "sessions left out)" if dropped else ""), params=("benchmark", "resultclass"))
    suts = sorted({k[2] for per in found.values() for k in per}, key=natural_key)
    if len(suts) == 1:
        the_sut = suts[0]
        summaries = {sw: {(b, n): summary for (b, n, s), summary in per.items() if s == the_sut}
                     for sw, per in found.items()}
        left = {sw: {(b, n): v for (b, n, s), v in per.items() if s == the_sut}
                for sw, per in gone.items()}
        return Report(store=url, swprofiles=tuple(swprofiles), sut=the_sut,
                      rows=tuple(rows_from_summaries(summaries, swprofiles, infos, left)),
                      notes={sw: notes[(sw, the_sut)] for sw in swprofiles
                             if (sw, the_sut) in notes}, suts=(the_sut,))
    by_sut: dict[str, dict[tuple[str, str], dict[str, Summary]]] = {sw: {} for sw in found}
    for sw, per in found.items():
        for (b, n, s), summary in per.items():
            by_sut[sw].setdefault((b, n), {})[s] = summary
    left = {sw: {} for sw in gone}
    for sw, per in gone.items():
        for (b, n, _), (k, m) in per.items():
            was = left[sw].get((b, n), (0, 0))
            left[sw][(b, n)] = (was[0] + k, was[1] + m)
    return Report(store=url, swprofiles=tuple(swprofiles), sut=", ".join(suts),
                  rows=tuple(rows_by_sut(by_sut, swprofiles, infos, left)),
                  notes=_merge_notes(notes, swprofiles, suts), suts=tuple(suts))


def rows_by_sut(summaries: Mapping[str, Mapping[tuple[str, str], Mapping[str, Summary]]],
                swprofiles: Sequence[str],
                resultclasses: Mapping[tuple[str, str], ResultClassInfo],
                left_out: Mapping[str, Mapping[tuple[str, str], tuple[int, int]]]
                | None = None) -> list[Row]:
    """rows_from_summaries when the sessions come from several SUTs:
    ``summaries[swprofile][(benchmark, result class)][sut]``. Each swprofile's own columns
    pool its SUTs (``stats.pool_summaries``); its comparison with the baseline treats the SUT
    as a factor (``stats.compare_by_sut``)."""
    pooled = {sw: {k: pool_summaries(per[s] for s in sorted(per, key=natural_key))
                   for k, per in classes.items()} for sw, classes in summaries.items()}
    rows = rows_from_summaries(pooled, swprofiles, resultclasses, left_out)
    base = swprofiles[0]
    out = []
    for row in rows:
        if row.comparison is not None:
            key = (row.benchmark, row.resultclass)
            row = dataclasses.replace(row, comparison=compare_by_sut(
                summaries[base][key], summaries[row.swprofile][key], row.improvement))
        out.append(row)
    return out


def _merge_notes(notes: Mapping[tuple[str, str], SessionNotes], swprofiles: Sequence[str],
                 suts: Sequence[str]) -> dict[str, SessionNotes]:
    """One SessionNotes per swprofile over its SUTs; sessions named "<session> on <SUT>"."""
    out = {}
    for sw in swprofiles:
        parts = [(su, notes[(sw, su)]) for su in suts if (sw, su) in notes]
        if parts:
            out[sw] = SessionNotes(
                left_out=tuple((f"{i} on {su}", status) for su, n in parts
                               for i, status in n.left_out),
                shared_boots=tuple(tuple(f"{i} on {su}" for i in group) for su, n in parts
                                   for group in n.shared_boots),
                left_out_samples=sum(n.left_out_samples for _, n in parts))
    return out


def _check_ids(store, url: str, swprofiles: Sequence[str], sut: str | None) -> None:
    if not swprofiles:
        raise UserError("give at least one {swprofiles}", params=("swprofiles",))
    if len(set(swprofiles)) != len(swprofiles):
        raise UserError(f"{{swprofiles}} given twice: {', '.join(swprofiles)}", params=("swprofiles",))
    known_sw = sorted(p.id for p in store.swprofiles())
    if not known_sw:
        raise UserError(f"store {url} holds no results (no swprofiles)")
    for sw in swprofiles:
        if sw not in known_sw:
            raise UserError(f"unknown swprofile '{sw}' in store {url} (it has: {_few(known_sw)})")
    suts = sorted(s.id for s in store.suts())
    if sut is not None and sut not in suts:
        raise UserError(f"unknown SUT '{sut}' in store {url} (it has: {_few(suts)})")


def _few(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _matching_resultclasses(store, url: str, benchmark: str,
                            resultclass: str) -> dict[tuple[str, str], ResultClassInfo]:
    benchmarks = sorted(b.id for b in store.benchmarks())
    matched = [b for b in benchmarks if fnmatch.fnmatchcase(b, benchmark)]
    if not matched:
        raise UserError(f"no benchmark matches {{benchmark}} '{benchmark}' in store {url} "
                        f"(it has: {_few(benchmarks) or 'none'})", params=("benchmark",))
    classes = [rc for rc in store.resultclasses() if rc.benchmark in matched]
    infos = {(rc.benchmark, rc.name): ResultClassInfo(rc.unit, rc.improvement) for rc in classes
             if fnmatch.fnmatchcase(rc.name, resultclass)}
    if not infos:
        names = sorted({rc.name for rc in classes})
        raise UserError(f"no result class matches {{resultclass}} '{resultclass}' for benchmark "
                        f"{_few(matched)} in store {url} (it has: {_few(names) or 'none'})", params=("resultclass",))
    return infos


def _summaries(store, swprofiles: Sequence[str], sut: str | None,
               infos: Mapping[tuple[str, str], ResultClassInfo]):
    """From the store's per-session aggregates (no sample is read) and its sessions table:
    {swprofile: {(benchmark, result class, SUT): Summary}} over the complete sessions, merged
    per boot; {swprofile: {same key: (sessions, samples) left out}}; {(swprofile, SUT):
    SessionNotes}. When one benchmark (or one result class) is selected the store filters
    the rows itself."""
    benchmarks = {b for b, _ in infos}
    names = {n for _, n in infos}
    aggs = store.session_aggregates(
        swprofiles=list(swprofiles), sut=sut,
        benchmark=next(iter(benchmarks)) if len(benchmarks) == 1 else None,
        resultclass=next(iter(names)) if len(names) == 1 else None)
    rows = {(s.sut, s.swprofile, s.session): s for sw in swprofiles
            for s in store.sessions(sut=sut, swprofile=sw)}
    out: dict[str, dict[tuple[str, str, str], Summary]] = {sw: {} for sw in swprofiles}
    gone: dict[str, dict[tuple[str, str, str], tuple[int, int]]] = {sw: {} for sw in swprofiles}
    left_out: dict[tuple[str, str], dict[int, str]] = {}
    shared: dict[tuple[str, str], dict[str, set[int]]] = {}
    for (bench, name, sw, sut_id), idx in aggs.groups().items():
        if (bench, name) not in infos or sw not in out:
            continue
        key = (bench, name, sut_id)
        info = [rows.get((sut_id, sw, int(i))) for i in aggs.session[idx]]
        keep = np.array([r is None or r.status == COMPLETE for r in info], dtype=bool)
        if not keep.all():
            gone[sw][key] = (int((~keep).sum()), int(aggs.count[idx][~keep].sum()))
            left_out.setdefault((sw, sut_id), {}).update(
                (r.session, r.status) for r, k in zip(info, keep) if not k)
        counted = [(r, int(i)) for r, i, k in zip(info, aggs.session[idx], keep) if k]
        if not counted:
            continue
        units = [r.boot_id if r is not None and r.boot_id else ("session", i) for r, i in counted]
        for unit, (r, i) in zip(units, counted):
            if isinstance(unit, str):
                shared.setdefault((sw, sut_id), {}).setdefault(unit, set()).add(i)
        kept = idx[keep]
        out[sw][key] = summarize_sessions(
            *merge_units(units, aggs.count[kept], aggs.mean[kept], aggs.m2[kept], aggs.min[kept],
                         aggs.max[kept]), sessions=len(counted))
    notes = {(sw, su): SessionNotes(
        left_out=tuple(sorted(left_out.get((sw, su), {}).items())),
        shared_boots=tuple(sorted(tuple(sorted(v)) for v in shared.get((sw, su), {}).values()
                                  if len(v) > 1)),
        left_out_samples=sum(n for (*_, s), (_, n) in gone[sw].items() if s == su))
        for sw, su in set(left_out) | set(shared)}
    return out, gone, notes
