"""The CSV store's fast columnar read of samples.csv (a mixin of csvstore.CsvStore, which
provides ``_file``, ``_complete``, ``_rows`` and ``samples``): Arrow's C++ reader when
installed, else one split of the whole text in Python; a bad line is named by the
line-by-line reader."""

from __future__ import annotations

import csv
import gc
import io
import os
import warnings
from collections.abc import Iterable
from operator import methodcaller

import numpy as np

from fastpath.errors import StoreError
from fastpath.store import codec
from fastpath.store.base import SampleColumns
from fastpath.store.csvfiles import read_text

SAMPLE_HEADER = codec.SAMPLE_COLUMNS


class CsvColumnReads:
    def _sample_fields(self) -> tuple[list[list[str]], int]:
        """The 8 columns of samples.csv as lists of strings, and the row count.

        Fast path for a file with no quoted field: one split of the whole text, columns by
        slicing; a per-line field count check in numpy. Otherwise (or on any malformed line)
        the csv module, and the line-by-line reader to name a bad line."""
        path = self._file("samples")
        if not os.path.exists(path):
            return [[] for _ in range(8)], 0
        good, _ = self._complete(path)
        text = read_text(path, good)
        header_end = text.find("\n") + 1
        if '"' not in text and "\r" not in text and text[:header_end - 1] == ",".join(SAMPLE_HEADER):
            body = text[header_end:-1]      # complete_size: text ends with a newline
            lines = body.split("\n") if body else []
            if set(map(methodcaller("count", ","), lines)) <= {7}:
                del lines
                flat = body.replace("\n", ",").split(",") if body else []
                return [flat[i::8] for i in range(8)], len(flat) // 8
        enabled = gc.isenabled()
        gc.disable()                 # millions of small lists: the cyclic GC only slows this down
        try:
            try:
                rows = list(csv.reader(io.StringIO(text, newline="")))
            except csv.Error:
                rows = None
            if not rows or tuple(rows[0]) != SAMPLE_HEADER or any(len(r) != 8 for r in rows):
                for _ in self._rows("samples", SAMPLE_HEADER):
                    pass             # raises StoreError naming file:line
            return [[r[i] for r in rows[1:]] for i in range(8)], len(rows) - 1
        finally:
            if enabled:
                gc.enable()

    @staticmethod
    def _numbers(column: list[str], dtype) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            out = np.fromstring(",".join(column), dtype=dtype, sep=",") if column else np.empty(0, dtype)
        if len(out) != len(column):
            raise ValueError("unparsable number")
        return out

    @staticmethod
    def _coded(column: list) -> tuple[list, np.ndarray]:
        values = list(dict.fromkeys(column))
        index = {v: i for i, v in enumerate(values)}
        return values, np.fromiter(map(index.__getitem__, column), dtype=np.int64, count=len(column))

    def _arrow_columns(self) -> tuple | None:
        """The 7 data columns of samples.csv parsed by Arrow's C++ CSV reader: the four id
        columns as (values, codes) and the three numbers as arrays; None when Arrow is not
        installed, the file has quoted fields, or anything in it does not parse (the Python
        paths then read it, and name a bad line)."""
        try:
            import pyarrow as pa
            import pyarrow.csv as pacsv
        except ImportError:
            return None
        path = self._file("samples")
        if not os.path.exists(path):
            return None
        good, _ = self._complete(path)
        with open(path, "rb") as fh:
            data = fh.read(good)
        header = ",".join(SAMPLE_HEADER).encode()
        if b'"' in data or b"\r" in data or data[:len(header) + 1] != header + b"\n":
            return None
        names = list(SAMPLE_HEADER[:7])
        types = {name: pa.string() for name in names[:4]}
        types.update({names[4]: pa.int64(), names[5]: pa.int64(), names[6]: pa.float64()})
        try:
            table = pacsv.read_csv(pa.py_buffer(data), parse_options=pacsv.ParseOptions(quote_char=False),
                                   convert_options=pacsv.ConvertOptions(
                                       column_types=types, include_columns=names, strings_can_be_null=False,
                                       quoted_strings_can_be_null=False))
        except (pa.ArrowInvalid, KeyError):
            return None
        coded = []
        for i in range(4):
            encoded = table.column(i).combine_chunks().dictionary_encode()
            coded.append((encoded.dictionary.to_pylist(), encoded.indices.to_numpy().astype(np.int64)))
        numbers = [table.column(i).to_numpy() for i in (4, 5, 6)]
        return coded, numbers, table.num_rows

    def sample_columns(self, *, sut: str | None = None, swprofiles: Iterable[str] | None = None,
                       benchmark: str | None = None,
                       resultclass: str | None = None) -> SampleColumns:
        """Whole-file parse (Arrow's reader when installed, else one split in Python), then
        column-wise coding and numpy conversion."""
        arrow = self._arrow_columns()
        if arrow is not None:
            ((suts, sut_c), (swps, swp_c), (benches, bench_c), (names, name_c)), numbers, n = arrow
        else:
            cols, n = self._sample_fields()
            suts, sut_c = self._coded(cols[0])
            swps, swp_c = self._coded(cols[1])
            benches, bench_c = self._coded(cols[2])
            names, name_c = self._coded(cols[3])
        pairs, rc_c = np.unique(bench_c * max(len(names), 1) + name_c, return_inverse=True)
        rcs = [(benches[int(p) // max(len(names), 1)], names[int(p) % max(len(names), 1)]) for p in pairs]
        try:
            if arrow is None:
                numbers = [self._numbers(cols[4], np.int64), self._numbers(cols[5], np.int64),
                           self._numbers(cols[6], np.float64)]
        except ValueError:
            for _ in self.samples():
                pass                 # raises StoreError naming file:line
            raise StoreError(f"{self._file('samples')}: unparsable numbers (corrupt file?)") from None
        mask = np.ones(n, dtype=bool)
        for values, coded, wanted in ((suts, sut_c, None if sut is None else [sut]),
                                      (swps, swp_c, None if swprofiles is None else list(swprofiles)),
                                      (rcs, rc_c.astype(np.int64), None if benchmark is None and resultclass is None
                                       else [k for k in rcs if benchmark in (None, k[0])
                                             and resultclass in (None, k[1])])):
            if wanted is not None:
                mask &= np.isin(coded, [i for i, v in enumerate(values) if v in set(wanted)])
        return SampleColumns(suts, swps, rcs, sut_c[mask], swp_c[mask], rc_c.astype(np.int64)[mask],
                             *(x[mask] for x in numbers))
