"""NHS England's published CBT files and the warehouse: the publication's labels, for joins.

The layout is ``streams.core.cbt_publication`` (pure); here its labels become a temp table
the export's SQL joins callstream's bands and buckets to.
"""

from __future__ import annotations

import duckdb

from streams.core import cbt_publication as nhs
from streams.warehouse import sqlfiles


def prepare_labels(conn: duckdb.DuckDBPyConnection) -> None:
    """Temp table publication_labels: the publication's labels, for the export's joins."""
    conn.execute(sqlfiles.read("published/publication_labels.sql"), nhs.label_columns())
