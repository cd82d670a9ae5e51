"""Our stream-derived CBT figures against NHS England's published files, for one month.

The comparison itself is view ``cbt_reconciliation`` (sql/views); this picks out what
``callstream export cbt --compare`` prints: the figures that differ by more than a
threshold, practice by practice, and which published files they were compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import polars as pl

from streams.outputs.export_cbt import month_range
from streams.warehouse import sqlfiles

if TYPE_CHECKING:
    from streams.warehouse.store import Warehouse


@dataclass(frozen=True)
class ReconciliationReport:
    """The differing figures of a month, and what they were compared with."""

    NUMERIC: ClassVar[tuple[str, ...]] = ("ours", "published", "difference")

    rows: pl.DataFrame  # sql/export/cbt_compare.sql
    practices: int  # our practices compared
    published_files: list[str]  # the files loaded for the month (zip or CSV names)


def differences(warehouse: Warehouse, month: str, threshold: int = 0) -> ReconciliationReport:
    """The figures of ``month`` that differ from the published ones by more than
    ``threshold`` calls (none when nothing is loaded for the month: see published_files)."""
    start, _ = month_range(month)
    scope = warehouse.query(sqlfiles.read("export/cbt_compare_scope.sql"), {"month": start})
    rows = warehouse.query(
        sqlfiles.read("export/cbt_compare.sql"), {"month": start, "threshold": threshold}
    )
    return ReconciliationReport(
        rows=rows,
        practices=int(scope["practices"][0] or 0),
        published_files=scope["files"].to_list()[0] or [],
    )
