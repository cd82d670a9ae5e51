"""The classified call: output of ``callstream classify`` and one row of the ``calls`` view.

A public contract (design.md). Field order is the column order of the warehouse table.
The fields after ``rules_version`` extend the contract (beyond-NHS measures).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from models.events import RequestType

Outcome = Literal["answered", "ended_in_ivr", "callback_requested", "missed"]
Routing = Literal["right_first_time", "transferred", "signposted", "unrouted"]
CoreCategory = Literal["Core_8_10", "Core_10_1830", "Non-Core"]

TIME_BANDS: tuple[str, ...] = (
    "00:00-05:59",
    "06:00-07:59",
    "08:00-09:59",
    "10:00-11:59",
    "12:00-13:59",
    "14:00-15:59",
    "16:00-17:59",
    "18:00-18:29",
    "18:30-23:59",
)
WAIT_BUCKETS: tuple[str, ...] = (
    "0",
    "1_30",
    "31_60",
    "61_90",
    "91_120",
    "121_150",
    "151_180",
    "181_210",
    "211_240",
    "241_300",
    ">300",
)
#: NHS England's published duration labels (reference data, call_duration_shares.csv).
DURATION_BUCKETS: tuple[str, ...] = (
    "1 minute or less",
    "1 to 2 minutes",
    "2 to 5 minutes",
    "over 5 minutes",
)
OUTCOMES: tuple[str, ...] = ("answered", "ended_in_ivr", "callback_requested", "missed")


class ClassifiedCall(BaseModel):
    """One call as NHS England counts it, plus routing and the pseudonymised caller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    practice: str
    call_id: str
    started_at: datetime  # UTC
    local_date: date  # Europe/London
    time_band: str
    core_category: CoreCategory
    inbound: bool
    outcome: Outcome | None  # null when outbound
    wait_s: int | None
    wait_bucket: str | None
    talk_s: int | None
    duration_bucket: str | None
    callback_made: bool
    request_type: RequestType | None
    first_team: str | None
    transfers: int
    routing: Routing
    caller_key: str | None  # pseudonym; null when withheld
    complete: bool
    rules_version: str
    # --- extensions ---
    ended_at: datetime | None = None  # UTC; null when the call never ended (complete=false)
    callback_answered: bool | None = None  # a callback_made reached the patient
    callback_wait_s: int | None = None  # from callback request to first callback made
    divert_target: str | None = None  # where the IVR signposted the caller
    events: int = 0  # distinct events that made this row
    first_agent: str | None = None  # extension/agent id of the first answered event, if given
    answered_at: datetime | None = None  # UTC; the first answered event; null when not answered
