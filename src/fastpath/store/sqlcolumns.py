"""The SQL store's fast reads for statistics: samples as numpy columns and per-session
aggregates computed by the database (a mixin of sqlstore.SqlStore, which provides
``_connect``, ``_reload``, ``pks``/``ids``, ``samples`` and ``engine``)."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from fastpath.store.base import SampleColumns, SessionAggregates, Store
from fastpath.store.sqlengine import translated

MAX_GROUP_QUERIES = 5000
# Per session of one (swprofile, result class, SUT): count, sum, min, max and the sums of
# v-K and (v-K)^2 for a shift K taken from the group's own samples, so that the spread
# M2 = sum((v-K)^2) - sum(v-K)^2/n keeps its digits (unshifted, sum(v*v) - sum(v)^2/n cancels
# them all away when the spread is small against the mean). A primary-key range scan grouped
# in index order: no sort. (VAR_POP is no better: MariaDB's and PostgreSQL's lose digits
# when the spread is a few thousand ulps of the mean, and SQLite has none.)
_SHIFT = "SELECT value FROM samples WHERE {where} LIMIT 1"
_AGGREGATES = ("SELECT session, COUNT(*), SUM(value), MIN(value), MAX(value), "
               "SUM((value - ({k})) * (value - ({k}))), SUM(value - ({k})) FROM samples WHERE {where} "
               "GROUP BY session ORDER BY session")
# The relative rounding error of M2 is about 1e-16 * sqrt(n) * sum((v-K)^2) / M2. A group
# whose shifted sums exceed its M2 (over all its sessions: what the statistics use) more
# than MAX_GROUP_RATIO times, or one session's more than MAX_SESSION_RATIO times (K far
# from a session with a tiny spread), is aggregated from its samples by numpy instead; so are
# values beyond +-1e150, whose squares overflow.
MAX_GROUP_RATIO = 100.0
MAX_SESSION_RATIO = 1e6
MAX_ABS_VALUE = 1e150


class SqlColumnReads:
    def sample_columns(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                       benchmark: str | None = None,
                       resultclass: str | None = None) -> SampleColumns:
        """One primary-key range query per (swprofile, result class, SUT) fetching only
        (session, repeat, value): little data crosses the driver (the fast path); a store
        with very many combinations is read with one query instead."""
        with translated("cannot read samples from", self.u):
            swps, rcs, suts = self._selected_pks(sut, swprofiles, benchmark, resultclass)
            combos = [(a, b, c) for a in swps for b in rcs for c in suts]
            if len(combos) > MAX_GROUP_QUERIES:
                return SampleColumns.from_samples(self.samples(
                    sut=sut, swprofiles=swprofiles, benchmark=benchmark, resultclass=resultclass))
            parts = self._fetch_groups(combos)
        ids = self.ids
        codes = [sorted({p[i] for p in parts}) for i in range(3)]
        index = [{v: j for j, v in enumerate(c)} for c in codes]
        sizes = [len(p[3]) for p in parts]
        data = np.concatenate([p[3] for p in parts]) if parts else np.empty((0, 3))

        def coded(i: int) -> np.ndarray:
            return np.repeat(np.array([index[i][p[i]] for p in parts], dtype=np.int64), sizes)
        return SampleColumns([ids["suts"][v] for v in codes[2]], [ids["swprofiles"][v] for v in codes[0]],
                             [ids["resultclasses"][v] for v in codes[1]], coded(2), coded(0), coded(1),
                             data[:, 0].astype(np.int64), data[:, 1].astype(np.int64),
                             np.ascontiguousarray(data[:, 2]))

    def _selected_pks(self, sut, swprofiles, benchmark, resultclass) -> tuple[list, list, list]:
        """The pks of the selected swprofiles, result classes and SUTs (after a reload)."""
        self._reload()
        pk = self.pks
        swps = [pk["swprofiles"][x] for x in (swprofiles if swprofiles is not None
                                              else pk["swprofiles"]) if x in pk["swprofiles"]]
        rcs = [v for (b, n), v in pk["resultclasses"].items()
               if (benchmark is None or b == benchmark) and (resultclass is None or n == resultclass)]
        suts = [pk["suts"][sut]] if sut in pk["suts"] else [] if sut is not None \
            else list(pk["suts"].values())
        return swps, rcs, suts

    def session_aggregates(self, *, sut: str | None = None,
                           swprofiles: Iterable[str] | None = None, benchmark: str | None = None,
                           resultclass: str | None = None) -> SessionAggregates:
        """One GROUP BY session query per (swprofile, result class, SUT), answered by the
        database: one row per session crosses the driver, not every sample. A group the
        database cannot aggregate to full precision (doubles overflowing near 1e308, a
        shift far from the data) is aggregated from its samples by numpy instead."""
        with translated("cannot read samples from", self.u):
            swps, rcs, suts = self._selected_pks(sut, swprofiles, benchmark, resultclass)
            combos = [(a, b, c) for a in swps for b in rcs for c in suts]
            if len(combos) > MAX_GROUP_QUERIES:
                return Store.session_aggregates(self, sut=sut, swprofiles=swprofiles,
                                                  benchmark=benchmark, resultclass=resultclass)
            parts, exact = self._aggregate_groups(combos)
            if exact:
                parts += self._aggregate_samples(exact)
        if not parts:
            return SessionAggregates.from_columns(SampleColumns([], [], [], *(
                np.empty(0, dtype=np.int64) for _ in range(5)), np.empty(0)))
        ids = self.ids
        codes = [sorted({p[i] for p in parts}) for i in range(3)]
        index = [{v: j for j, v in enumerate(c)} for c in codes]
        sizes = [len(p[3]) for p in parts]

        def coded(i: int) -> np.ndarray:
            return np.repeat(np.array([index[i][p[i]] for p in parts], dtype=np.int64), sizes)

        def column(j: int) -> np.ndarray:
            return np.concatenate([p[3 + j] for p in parts])
        return SessionAggregates([ids["suts"][v] for v in codes[2]],
                                 [ids["swprofiles"][v] for v in codes[0]],
                                 [ids["resultclasses"][v] for v in codes[1]], coded(2), coded(0),
                                 coded(1), *(column(j) for j in range(6)))

    def _aggregate_groups(self, combos: list[tuple[int, int, int]]) -> tuple[list, list]:
        """([(swprofile_pk, resultclass_pk, sut_pk, session, count, mean, m2, min, max)] per
        group aggregated by the database, [combos to aggregate from their samples])."""
        parts, exact = [], []
        with self._connect() as conn:
            for combo in combos:       # ints from our own maps: safe to inline
                where = (f"swprofile_pk = {int(combo[0])} AND resultclass_pk = {int(combo[1])} "
                         f"AND sut_pk = {int(combo[2])}")
                shift = conn.exec_driver_sql(_SHIFT.format(where=where)).scalar()
                if shift is None:
                    continue           # no samples
                if abs(shift) > MAX_ABS_VALUE:
                    exact.append(combo)
                    continue
                k = float(shift) if abs(shift) >= 1e-300 else 0.0   # any K is exact; no subnormals
                try:                   # K inlined: repr round-trips a double
                    rows = conn.exec_driver_sql(_AGGREGATES.format(where=where, k=repr(k))).fetchall()
                except SQLAlchemyError as err:
                    if "out of range" not in str(err).lower():
                        raise
                    conn.rollback()    # PostgreSQL: the failed statement aborted the transaction
                    exact.append(combo)
                    continue
                session_aggs = self._session_rows(rows)
                if session_aggs is None:
                    exact.append(combo)
                else:
                    parts.append((*combo, *session_aggs))
        return parts, exact

    @staticmethod
    def _session_rows(rows: list) -> tuple[np.ndarray, ...] | None:
        """(session, count, mean, m2, min, max) from _AGGREGATES rows; None when they are not
        precise enough (see MAX_GROUP_RATIO) or not finite."""
        try:
            data = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64,
                               count=7 * len(rows)).reshape(len(rows), 7)
        except TypeError:
            return None                # a NULL: SQLite turns arithmetic giving NaN into NULL
        if not rows or not np.all(np.isfinite(data)) or np.any(np.abs(data[:, 3:5]) > MAX_ABS_VALUE):
            return None
        count, lo, hi, shifted = data[:, 1].astype(np.int64), data[:, 3], data[:, 4], data[:, 5]
        mean = data[:, 2] / count
        m2 = np.where(lo == hi, 0.0, np.maximum(shifted - data[:, 6] ** 2 / count, 0.0))
        grand = float((count * mean).sum() / count.sum())
        total = float(m2.sum() + (count * (mean - grand) ** 2).sum())
        if (shifted.sum() > MAX_GROUP_RATIO * total
                or np.any((shifted > MAX_SESSION_RATIO * m2) & (lo != hi))):
            return None
        return data[:, 0].astype(np.int64), count, mean, m2, lo, hi

    def _aggregate_samples(self, combos: list[tuple[int, int, int]]) -> list[tuple]:
        """The groups' samples aggregated per session by numpy (SessionAggregates.from_columns)."""
        parts = []
        for swp, rc, sut, matrix in self._fetch_groups(combos):
            cols = SampleColumns(["s"], ["w"], [("b", "r")], *(np.zeros(len(matrix), dtype=np.int64)
                                                               for _ in range(3)),
                                 matrix[:, 0].astype(np.int64), matrix[:, 1].astype(np.int64),
                                 np.ascontiguousarray(matrix[:, 2]))
            a = SessionAggregates.from_columns(cols)
            parts.append((swp, rc, sut, a.session, a.count, a.mean, a.m2, a.min, a.max))
        return parts

    def _fetch_groups(self, combos: list[tuple[int, int, int]]) -> list[tuple]:
        """[(swprofile_pk, resultclass_pk, sut_pk, float64 matrix of session, repeat, value)]."""
        parts = []
        with self._connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            mysql = self.engine.dialect.name == "mysql"
            try:
                if mysql:
                    cursor.execute("SET SESSION group_concat_max_len = 4294967295")
                for swp, rc, sut in combos:     # ints from our own maps: safe to inline
                    where = (f"FROM samples WHERE swprofile_pk = {int(swp)} AND resultclass_pk = {int(rc)} "
                             f"AND sut_pk = {int(sut)}")
                    matrix = self._mysql_group(cursor, where) if mysql else None
                    if matrix is None:
                        cursor.execute(f"SELECT session, repeat_idx, value {where}")
                        rows = cursor.fetchall()
                        matrix = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64,
                                             count=3 * len(rows)).reshape(len(rows), 3)
                    if len(matrix):
                        parts.append((swp, rc, sut, matrix))
            finally:
                cursor.close()
        return parts

    @staticmethod
    def _mysql_group(cursor, where: str) -> np.ndarray | None:
        """One group as a single GROUP_CONCAT string parsed by numpy: PyMySQL converts every
        field in Python, which makes row-wise reads of 1M samples take seconds. MariaDB and
        MySQL print a DOUBLE in its shortest round-trip form, so values are exact. None when
        the text was cut (max_allowed_packet): the caller reads rows instead."""
        cursor.execute(f"SELECT COUNT(*), GROUP_CONCAT(session, ',', repeat_idx, ',', value "
                       f"SEPARATOR ',') {where}")
        count, text = cursor.fetchone()
        if not count:
            return np.empty((0, 3))
        if text is None:
            return None
        if isinstance(text, bytes):
            text = text.decode()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            flat = np.fromstring(text, dtype=np.float64, sep=",")
        return flat.reshape(count, 3) if len(flat) == 3 * count else None

