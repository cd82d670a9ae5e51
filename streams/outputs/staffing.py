"""The staffing plan from the warehouse: which days, which targets, demand in, plan out.

One place for what ``callstream staffing`` and the "Staffing the morning" dashboard share:
the days a weekday's demand is averaged over, each practice's service target (settings, then
the rules file's ``staffing``), and the model run on ``sql/reports/staffing_demand.sql``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from streams.core.nhs_time import last_whole, same_weekdays
from streams.core.rules import Rules
from streams.core.staffing import QuarterDemand, QuarterPlan, Target, plan
from streams.settings import Settings
from streams.warehouse import sqlfiles
from streams.warehouse.store import Warehouse

DEMAND_QUERY = "reports/staffing_demand.sql"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekday_dates(
    weekday: str, latest: date, weeks: int, now: datetime | None = None
) -> list[date]:
    """The ``weekday`` of each of the last ``weeks`` weeks up to ``latest``, bank holidays
    left out (the demand the plan averages); whole days only, so not today (at ``now``)."""
    wanted = WEEKDAYS.index(weekday.lower())
    last = latest - timedelta(days=(latest.weekday() - wanted) % 7)
    return same_weekdays(last_whole(last, now or datetime.now(UTC)), weeks)


def targets(
    settings: Settings,
    rules: Rules,
    practices: Iterable[str],
    level: float | None = None,
    within_s: int | None = None,
) -> dict[str, Target]:
    """Each practice's target: ``level``/``within_s`` when given (a what-if), else the
    practice's own in the rules file, else the CALLSTREAM_STAFFING_* settings."""
    default = Target(
        level=settings.staffing_target,
        within_s=settings.staffing_within_s,
        shrinkage=settings.staffing_shrinkage,
    )
    chosen = {}
    for practice in practices:
        target = default.overridden(rules.staffing.get(practice))
        changes = {"level": level, "within_s": within_s}
        chosen[practice] = target.model_copy(
            update={name: value for name, value in changes.items() if value is not None}
        )
    return chosen


def plan_rows(
    rows: Iterable[Mapping[str, Any]], targets: Mapping[str, Target], shift_demand: float = 0.0
) -> list[QuarterPlan]:
    """The model run on rows of ``reports/staffing_demand``."""
    return plan((QuarterDemand.model_validate(row) for row in rows), targets, shift_demand)


def demand_rows(
    warehouse: Warehouse, practices: list[str], dates: list[date]
) -> list[dict[str, Any]]:
    """``reports/staffing_demand`` for these practices and days."""
    frame = warehouse.query(sqlfiles.read(DEMAND_QUERY), {"practices": practices, "dates": dates})
    return list(frame.iter_rows(named=True))
