"""Query results as polars frames, through Arrow, or as text DuckDB formats for printing.

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


#: DuckDB's numeric types (without a DECIMAL's precision: ``base_type``).
NUMERIC = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
)  # fmt: skip
#: Types whose text never holds a comma, a quote or a line break: never quoted in CSV.
UNQUOTED = (*NUMERIC, "BOOLEAN", "DATE")
NESTED = ("STRUCT", "MAP", "UNION")


def base_type(sql_type: str) -> str:
    """``DECIMAL(10,2)`` -> ``DECIMAL``."""
    return sql_type.split("(")[0]


def as_text(relation: duckdb.DuckDBPyRelation, fmt: str) -> duckdb.DuckDBPyRelation:
    """The result as lines ready to write, one VARCHAR per row, formatted by DuckDB in its
    vectors: per value in Python a million rows took three to ten times polars' two seconds.

    ``csv``: one CSV line per row (quoted as Python's ``csv`` module quotes: a cell holding a
    comma, a quote or a line break); null and the empty string are an empty cell; numbers
    and text as DuckDB prints them, lists, structs and maps as JSON, bytes as hex, times as
    DuckDB's ISO 8601 text (``2026-08-03 08:00:01.5+00``), durations ``00:03:00``.
    ``json``: a JSON object per row, bytes hex (DuckDB writes NaN and infinity as JSON cannot
    hold them: ``output.write_text_rows`` makes them null). Column names are made unique
    first (``a``, ``a_1``).
    """
    from streams.warehouse.connect import quote  # duckdb is loaded by now; not for --help

    names = unique_names(relation.columns)
    cells = []
    for position, (name, kind) in enumerate(zip(names, relation.types, strict=True), 1):
        sql_type, value = str(kind), f"#{position}"
        if sql_type == "BLOB":
            value = f"hex({value})"
        elif fmt == "csv" and (sql_type.endswith("]") or sql_type.startswith(NESTED)):
            value = f"CAST(to_json({value}) AS VARCHAR)"
        if fmt == "csv":
            plain = base_type(sql_type) in UNQUOTED
            value = _csv_cell(f"CAST({value} AS VARCHAR)", plain, len(names))
        cells.append((name, value))
    if fmt == "json":  # keys as text: "UPPER" and "upper" are two keys, not one struct field
        fields = ", ".join(f"{quote(name)}, {value}" for name, value in cells)
        return relation.project(f"CAST(json_object({fields}) AS VARCHAR)")
    return relation.project(" || ',' || ".join(value for _, value in cells))


def _csv_cell(text: str, plain: bool, columns: int) -> str:
    """A VARCHAR expression as one CSV cell (never null). A lone empty cell is written
    ``""``, as Python's ``csv`` does, so that its line is not blank."""
    empty = "'\"\"'" if columns == 1 else "''"
    if plain:
        return f"coalesce({text}, {empty})"
    return (
        f"CASE WHEN {text} IS NULL OR {text} = '' THEN {empty} "
        f"WHEN regexp_matches({text}, '[,\"\\r\\n]') "
        f"THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END"
    )
