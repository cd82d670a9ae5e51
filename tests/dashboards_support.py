"""A warehouse of simulated calls for the dashboard tests, built without Kafka.

simulate (NHS-profiled events) -> pseudonymise -> classify -> Warehouse.merge_calls, plus the
fixture practice mapping: A81001/A81002 and A81004/A81005 are two PCNs of one ICB, A81006 is
in no reference file (its pages group it under UNMAPPED).
"""

from __future__ import annotations

from datetime import date, timedelta

from analyst_support import load_reference

from models.classified import ClassifiedCall
from models.events import CallEvent
from streams.core.classify import classify_call
from streams.core.pseudonymise import pseudonymise
from streams.core.rules import load_rules
from streams.devtools.simulate import SimulationConfig, simulate
from streams.settings import Settings
from streams.warehouse.store import Warehouse

PRACTICES = 5
#: The simulated week ends on Wednesday 12 August 2026 ("today" of the dashboards).
WEEK_START = date(2026, 8, 6)
TODAY = WEEK_START + timedelta(days=6)


def simulated_calls(start: date, days: int, seed: int = 7) -> list[ClassifiedCall]:
    """The classified calls of ``days`` simulated days from ``start``."""
    rules = load_rules()
    config = SimulationConfig(practices=PRACTICES, start=start, days=days, seed=seed, key=b"d")
    return [
        classify_call(
            [pseudonymise(CallEvent.model_validate(e), config.key) for e in call.events], rules
        )
        for call in simulate(config, rules)
    ]


def build_week(settings: Settings) -> int:
    """A simulated week to TODAY plus the same weekday of the 4 weeks before; calls merged."""
    calls = simulated_calls(WEEK_START, 7)
    for weeks in range(1, 5):
        calls.extend(simulated_calls(TODAY - timedelta(weeks=weeks), 1, seed=weeks))
    with Warehouse.open(settings) as warehouse:
        load_reference(warehouse)
        warehouse.merge_calls(calls)
    return len(calls)
