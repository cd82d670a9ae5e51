"""Helpers for the warehouse tests (also imported by writer subprocesses, hence a module)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from models.classified import ClassifiedCall


def make_call(call_id: str, **overrides: Any) -> ClassifiedCall:
    """An answered inbound call at 08:30 local on Monday 3 August 2026, fields overridable."""
    fields: dict[str, Any] = dict(
        practice="A12345",
        call_id=call_id,
        started_at=datetime(2026, 8, 3, 7, 30, tzinfo=UTC),
        local_date=date(2026, 8, 3),
        time_band="08:00-09:59",
        core_category="Core_8_10",
        inbound=True,
        outcome="answered",
        wait_s=42,
        wait_bucket="31_60",
        talk_s=95,
        duration_bucket="1 to 2 minutes",
        callback_made=False,
        request_type="appointments",
        first_team="reception",
        transfers=0,
        routing="right_first_time",
        caller_key="pseudonym-1",
        complete=True,
        rules_version="2026.1",
        ended_at=datetime(2026, 8, 3, 7, 32, 17, tzinfo=UTC),
        events=5,
        first_agent="201",
        answered_at=datetime(2026, 8, 3, 7, 30, 42, tzinfo=UTC),
    )
    fields.update(overrides)
    return ClassifiedCall(**fields)
