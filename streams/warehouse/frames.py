"""Query results as polars frames, through Arrow, and the column names a result prints under.

Apart from the Warehouse, and polars imported only to build a frame, so that ``callstream
sql`` can name its columns with duckdb alone (polars and the writer's models cost it a
fifth and a quarter of a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import polars as pl


def arrow_frame(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """A DuckDB relation as a polars frame through Arrow.

    Three adjustments keep the frame what a reader expects: repeated column names get
    ``_1``, ``_2`` (a frame cannot hold two ``a``); INTERVAL columns become polars
    durations, or text when nested in a list or struct (polars cannot import Arrow's
    month-day-nano intervals); and whole-number
    DECIMAL(38,0), which is how Arrow carries DuckDB's HUGEINT sums, becomes Int64 (a
    strict cast: a sum beyond Int64 raises rather than wraps).
    """
    import polars as pl

    names = unique_names(relation.columns)
    types = dict(zip(names, (str(t) for t in relation.types), strict=True))
    intervals = {n for n, t in types.items() if t == "INTERVAL"}
    nested = {n for n, t in types.items() if "INTERVAL" in t and n not in intervals}
    if names != relation.columns or intervals or nested:
        relation = relation.project(
            ", ".join(_arrow_safe(i, n, types[n]) for i, n in enumerate(names, start=1))
        )
    frame = pl.DataFrame(relation)
    casts = [pl.col(n).cast(pl.Duration("us")) for n in intervals]
    casts += [
        pl.col(n).cast(pl.Int64)
        for n, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal) and dtype.scale == 0
    ]
    return frame.with_columns(casts) if casts else frame


def _arrow_safe(position: int, name: str, sql_type: str) -> str:
    """Select a column by position under a unique name, intervals in a form polars reads:
    microseconds for a plain INTERVAL, text for one nested in a list or struct."""
    if sql_type == "INTERVAL":
        return f"CAST(epoch(#{position}) * 1000000 AS BIGINT) AS {_ident(name)}"
    if "INTERVAL" in sql_type:
        return f"CAST(#{position} AS VARCHAR) AS {_ident(name)}"
    return f"#{position} AS {_ident(name)}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique (``a``, ``a_1``, ...): a frame cannot hold two ``a``."""
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        unique.append(candidate)
    return unique
