"""`result merge`: copy samples and everything they refer to from stores into another.

Any backend to any backend. Idempotent: objects equal to what the destination holds are
skipped, samples and errors already there are not added again, so merging twice adds
nothing. Sources are opened read-only (a SELECT-only database user is enough). An object
(SUT, swprofile, benchmark, result class) whose id exists in the destination with different
content is a conflict: nothing is written and StoreError names the object and field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fastpath.errors import StoreError, UserError
from fastpath.store import codec, open_store
from fastpath.store.base import Store
from fastpath.store.url import parse

BATCH = 50000


@dataclass
class MergeReport:
    sources: list[str] = field(default_factory=list)   # masked URLs
    output: str = ""
    samples_read: int = 0
    samples_new: int = 0
    objects_new: int = 0
    sessions: int = 0
    errors_new: int = 0

    def summary(self) -> str:
        return (f"merged {self.samples_new} new samples ({self.samples_read - self.samples_new} "
                f"already present), {self.objects_new} new objects, {self.sessions} sessions, "
                f"{self.errors_new} new error records from {', '.join(self.sources)} into {self.output}")


@dataclass
class Selection:
    """Exact ids to copy; None means all."""
    suts: set[str] | None = None
    swprofiles: set[str] | None = None
    benchmarks: set[str] | None = None

    def want(self, attr: str, value: str) -> bool:
        chosen = getattr(self, attr)
        return chosen is None or value in chosen


def merge(sources: Iterable[str], output: str, *, suts: Iterable[str] | None = None,
          swprofiles: Iterable[str] | None = None,
          benchmarks: Iterable[str] | None = None) -> MergeReport:
    """Merge the selected data of every source URL into the ``output`` URL (created if absent)."""
    sources = list(sources)
    if not sources:
        raise UserError("result merge: give at least one SRC store")
    sel = Selection(*(set(x) if x else None for x in (suts, swprofiles, benchmarks)))
    target = _where(output)
    for url in sources:
        if _where(url) == target:
            raise UserError(f"source {parse(url).masked} is also the {{output}} store", params=("output",))
    opened = []
    try:
        opened.extend(open_store(url, readonly=True) for url in sources)
        _check_filters(opened, sel)
        with open_store(output) as dest:
            report = MergeReport([s.url for s in opened], dest.url)
            for src in opened:
                merge_one(src, dest, sel, report)
        return report
    finally:
        for store in opened:
            store.close()


def _where(url: str) -> tuple:
    u = parse(url)
    return (u.scheme, u.path, u.host, u.port, u.database)


def _check_filters(stores: list[Store], sel: Selection) -> None:
    for attr in ("suts", "swprofiles", "benchmarks"):
        chosen = getattr(sel, attr)
        if not chosen:
            continue
        present = {o.id for s in stores for o in getattr(s, attr)()}
        for missing in sorted(chosen - present):
            raise UserError(f"{{{attr}}} '{missing}' is in none of {', '.join(s.url for s in stores)}",
                            params=(attr,))


def merge_one(src: Store, dest: Store, sel: Selection, report: MergeReport) -> None:
    objects = [
        ("SUT", [o for o in src.suts() if sel.want("suts", o.id)], dest.suts(), dest.put_sut),
        ("swprofile", [o for o in src.swprofiles() if sel.want("swprofiles", o.id)],
         dest.swprofiles(), dest.put_swprofile),
        ("benchmark", [o for o in src.benchmarks() if sel.want("benchmarks", o.id)],
         dest.benchmarks(), dest.put_benchmark),
        ("result class", [o for o in src.resultclasses() if sel.want("benchmarks", o.benchmark)],
         dest.resultclasses(), dest.put_resultclass),
    ]
    for kind, chosen, present, _ in objects:          # check every conflict before writing
        have = {codec.key(o): o for o in present}
        for obj in chosen:
            old = have.get(codec.key(obj))
            if old is not None and old != obj:
                raise StoreError(f"{kind} '{'/'.join(codec.key(obj))}' differs between {src.url} and "
                                 f"{dest.url} ({codec.first_difference(old, obj)}): nothing merged")
    for _, chosen, present, put in objects:
        have = {codec.key(o) for o in present}
        for obj in chosen:
            if codec.key(obj) not in have:
                put(obj)
                report.objects_new += 1
    _merge_sessions_and_errors(src, dest, sel, report)
    _merge_samples(src, dest, sel, report)


def _merge_sessions_and_errors(src: Store, dest: Store, sel: Selection, report: MergeReport) -> None:
    have = {codec.key(s): s for s in dest.sessions()}
    for session in src.sessions():
        if sel.want("suts", session.sut) and sel.want("swprofiles", session.swprofile):
            if have.get(codec.key(session)) != session:
                dest.put_session(session)
            report.sessions += 1
    known = {codec.key(e) for e in dest.errors()}
    for error in src.errors():
        if (sel.want("suts", error.sut) and sel.want("swprofiles", error.swprofile)
                and (not error.benchmark or sel.want("benchmarks", error.benchmark))
                and codec.key(error) not in known):
            dest.record_error(error)
            report.errors_new += 1


def _merge_samples(src: Store, dest: Store, sel: Selection, report: MergeReport) -> None:
    batch = []
    swprofiles = sorted(sel.swprofiles) if sel.swprofiles is not None else None
    for sample in src.samples(swprofiles=swprofiles):
        if sel.want("suts", sample.sut) and sel.want("benchmarks", sample.benchmark):
            batch.append(sample)
            if len(batch) >= BATCH:
                report.samples_new += dest.append_samples(batch)
                report.samples_read += len(batch)
                batch = []
    if batch:
        report.samples_new += dest.append_samples(batch)
        report.samples_read += len(batch)
