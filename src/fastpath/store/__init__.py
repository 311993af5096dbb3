"""Result stores: one interface (base.Store), a CSV directory backend and SQL backends.

    from fastpath.store import open_store
    with open_store("sqlite:///results.db") as store:       # or a directory, mysql://, postgresql://
        store.put_sut(...); store.append_sample(...)
        cols = store.sample_columns(swprofiles=["6.8.0-baseline"])
        aggs = store.session_aggregates(swprofiles=["6.8.0-baseline"])   # per session

URL forms and password masking: store/url.py. Library functions on top of a store:
store/merge.py (``merge``), store/interchange.py (``import_file``, ``export_samples``),
store/listing.py (``list_objects``).
"""

from __future__ import annotations

from fastpath.store.base import SCHEMA_VERSION, SampleColumns, SessionAggregates, Store
from fastpath.store.url import mask, parse

__all__ = ["open_store", "mask", "Store", "SampleColumns", "SessionAggregates", "SCHEMA_VERSION"]


def open_store(url: str, readonly: bool = False) -> Store:
    """Open (a writer creates it when absent) the store at ``url``.

    Raises UserError for a malformed URL or unknown scheme, StoreError (one line, password
    masked) when the store cannot be reached, read or created, StoreVersionError when it
    was written by a newer fastpath. ``readonly=True`` never creates or changes anything
    and works for a database user with SELECT only."""
    parsed = parse(url)
    if parsed.scheme == "csv":
        from fastpath.store.csvstore import CsvStore
        return CsvStore(parsed, readonly)
    from fastpath.store.sqlstore import SqlStore
    return SqlStore(parsed, readonly)
