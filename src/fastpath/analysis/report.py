"""From a result store to comparison rows: what `fastpath result show` prints.

    report = compare_swprofiles(store, ["6.1-baseline", "6.1-regression"],
                                benchmark="sysbench/*", resultclass="*")
    report.rows        # Row: benchmark, resultclass, unit, improvement, swprofile,
                       #      summary (stats.Summary), baseline, comparison (stats.Comparison)
    report.dicts()     # the `--format json` rows

The first swprofile is the baseline; every other swprofile's rows carry a Comparison with it
(statistics in fastpath.analysis.stats). ``build_rows`` (from grouped samples) and
``rows_from_summaries`` are the pure part, usable without a store.

Every statistic comes from per-session aggregates (count, mean, M2, min, max; see
``stats.summarize_sessions``), so ``compare_swprofiles`` asks the store for those
(``Store.session_aggregates``: one GROUP BY in SQL) and never reads the samples themselves.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fastpath.analysis.group import Group
from fastpath.analysis.stats import Comparison, Summary, compare, summarize, summarize_sessions
from fastpath.errors import UserError

CONTRACT_KEYS = ("benchmark", "resultclass", "unit", "swprofile", "min", "ci95min", "mean",
                 "ci95max", "max", "cv", "count")
COMPARISON_KEYS = ("baseline", "change_pct", "significance")
EXTRA_KEYS = ("sessions", "ci_basis")


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

    def as_dict(self, compared: bool) -> dict:
        """The interchange row (DESIGN.md section 3), then ``sessions`` and ``ci_basis``;
        computed values rounded to 12 significant digits.

        ``compared``: the report has several swprofiles, so every row carries ``baseline``,
        ``change_pct`` and ``significance`` (None on the baseline's own rows).
        """
        s = self.summary
        row = {"benchmark": self.benchmark, "resultclass": self.resultclass, "unit": self.unit,
               "swprofile": self.swprofile, "min": s.min, "ci95min": _sig(s.ci95min),
               "mean": _sig(s.mean), "ci95max": _sig(s.ci95max), "max": s.max, "cv": _sig(s.cv),
               "count": s.count}
        if compared:
            c = self.comparison
            row["baseline"] = self.baseline
            row["change_pct"] = _sig(c.change_pct) if c else None
            row["significance"] = c.significance if c else None
        row["sessions"] = s.sessions
        row["ci_basis"] = s.basis
        return row


@dataclass(frozen=True)
class Report:
    store: str                    # the store URL, password masked
    swprofiles: tuple[str, ...]   # the first is the baseline
    sut: str
    rows: tuple[Row, ...]

    def dicts(self) -> list[dict]:
        return [r.as_dict(len(self.swprofiles) > 1) for r in self.rows]


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
                        resultclasses: Mapping[tuple[str, str], ResultClassInfo]) -> list[Row]:
    """build_rows from ``summaries[swprofile][(benchmark, result class)]`` (one SUT)."""
    keys = sorted({k for per in summaries.values() for k in per})
    base = swprofiles[0]
    rows = []
    for key in keys:
        info = resultclasses[key]
        present = {sw: s for sw in swprofiles if (s := summaries.get(sw, {}).get(key)) is not None}
        for sw, summary in present.items():
            comparison = None
            if sw != base and base in present:
                comparison = compare(present[base], summary, info.improvement)
            rows.append(Row(key[0], key[1], info.unit, info.improvement, sw, summary,
                            baseline=base if sw != base else None, comparison=comparison))
    return rows


def compare_swprofiles(store, swprofiles: Sequence[str], *, benchmark: str = "*",
                       resultclass: str = "*", sut: str | None = None) -> Report:
    """Summaries and comparisons for the given swprofiles of ``store`` (the first is the baseline).

    ``benchmark`` and ``resultclass`` are shell-style globs; ``sut`` is needed only when the
    swprofiles have samples on more than one SUT. Raises UserError naming what is wrong: an
    empty store, an unknown swprofile or SUT, a glob that matches nothing, a swprofile with
    no matching samples.
    """
    url = getattr(store, "url", "the store")
    _check_ids(store, url, swprofiles, sut)
    infos = _matching_resultclasses(store, url, benchmark, resultclass)
    found = _summaries(store, swprofiles, sut, infos)
    for sw, per in found.items():
        if not per:
            raise UserError(f"no samples for swprofile '{sw}' in store {url} with --benchmark "
                            f"'{benchmark}' --resultclass '{resultclass}'"
                            + (f" on SUT '{sut}'" if sut else ""))
    the_sut = _one_sut(found, url)
    summaries = {sw: {(b, n): summary for (b, n, _), summary in per.items()}
                 for sw, per in found.items()}
    return Report(store=url, swprofiles=tuple(swprofiles), sut=the_sut,
                  rows=tuple(rows_from_summaries(summaries, swprofiles, infos)))


def _check_ids(store, url: str, swprofiles: Sequence[str], sut: str | None) -> None:
    if not swprofiles:
        raise UserError("give at least one --swprofile")
    if len(set(swprofiles)) != len(swprofiles):
        raise UserError(f"--swprofile given twice: {', '.join(swprofiles)}")
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
        raise UserError(f"no benchmark matches --benchmark '{benchmark}' in store {url} "
                        f"(it has: {_few(benchmarks) or 'none'})")
    classes = [rc for rc in store.resultclasses() if rc.benchmark in matched]
    infos = {(rc.benchmark, rc.name): ResultClassInfo(rc.unit, rc.improvement) for rc in classes
             if fnmatch.fnmatchcase(rc.name, resultclass)}
    if not infos:
        names = sorted({rc.name for rc in classes})
        raise UserError(f"no result class matches --resultclass '{resultclass}' for benchmark "
                        f"{_few(matched)} in store {url} (it has: {_few(names) or 'none'})")
    return infos


def _summaries(store, swprofiles: Sequence[str], sut: str | None,
               infos: Mapping[tuple[str, str], ResultClassInfo]
               ) -> dict[str, dict[tuple[str, str, str], Summary]]:
    """{swprofile: {(benchmark, result class, SUT): Summary}} from the store's per-session
    aggregates (no sample is read). When one benchmark (or one result class) is selected the
    store filters the rows itself."""
    benchmarks = {b for b, _ in infos}
    names = {n for _, n in infos}
    aggs = store.session_aggregates(
        swprofiles=list(swprofiles), sut=sut,
        benchmark=next(iter(benchmarks)) if len(benchmarks) == 1 else None,
        resultclass=next(iter(names)) if len(names) == 1 else None)
    out: dict[str, dict[tuple[str, str, str], Summary]] = {sw: {} for sw in swprofiles}
    for (bench, name, sw, sut_id), idx in aggs.groups().items():
        if (bench, name) in infos and sw in out:
            out[sw][(bench, name, sut_id)] = summarize_sessions(
                aggs.count[idx], aggs.mean[idx], aggs.m2[idx], aggs.min[idx], aggs.max[idx])
    return out


def _one_sut(found: Mapping[str, Mapping[tuple[str, str, str], Summary]], url: str) -> str:
    suts = sorted({k[2] for per in found.values() for k in per})
    if len(suts) > 1:
        raise UserError(f"the swprofiles have samples on several SUTs in store {url} "
                        f"({_few(suts)}): choose one with --sut")
    return suts[0]
