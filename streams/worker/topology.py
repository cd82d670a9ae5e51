"""What the worker's agents share: the Pipeline (app, topics, tables, live state) and the
codec the call-state changelog is written with.

Kept apart from ``app`` (which builds the app and registers the agents) so the agents can
import what they need without importing the module that imports them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import faust
from faust.serializers import codecs
from faust.types import TopicT

from models.classified import ClassifiedCall
from streams.core.call_state import CallState
from streams.settings import Settings
from streams.warehouse.store import Warehouse
from streams.worker.live import Live
from streams.worker.metrics import Metrics, Status
from streams.worker.reject import DeadLetters

CALL_STATE_CODEC = "callstream-call-state"
TABLE_NAME = "call-state"


class _CallStateCodec(codecs.Codec):
    """Serialises the table's values for its changelog (the table itself holds objects)."""

    def _dumps(self, obj: CallState) -> bytes:
        return obj.to_bytes()

    def _loads(self, s: bytes) -> CallState | None:
        return CallState.from_bytes(s) if s else None  # None: a deleted call (tombstone)


codecs.register(CALL_STATE_CODEC, _CallStateCodec())


class CallStateValue:
    """The table's value type as Faust sees it: our codec for the changelog, both ways.

    Faust takes a table's changelog serializer from ``value_type._options.serializer`` and
    finishes decoding with ``value_type.from_data``; the codec already made the object.
    """

    class _options:  # noqa: N801 - the attribute name Faust looks up
        serializer = CALL_STATE_CODEC

    @classmethod
    def from_data(cls, data: CallState, preferred_type: object = None) -> CallState:
        return data


class WarehouseNotOpen(Exception):
    """The writer has not opened the warehouse yet (the worker is starting): ask again soon."""


@dataclass
class Pipeline:
    """The app and what its agents share."""

    app: faust.App
    settings: Settings
    raw: TopicT
    classified: TopicT
    dead_letter: TopicT
    calls: faust.Table
    pseudonym_key: bytes  # HMAC key for callers (and for redacting dead letters)
    live: Live  # per-practice live state (streams.worker.live): fed once per pipeline batch
    metrics: Metrics
    status: Status
    #: Set by the writer: appends alert rows to the warehouse on its thread (None: no writer).
    record_alerts: Callable[[list[tuple[Any, ...]]], Awaitable[None]] | None = None
    #: Set by the writer: runs a read on its warehouse, on its thread (None: no writer);
    #: ``WarehouseNotOpen`` until the writer has opened it.
    in_warehouse: Callable[[Callable[[Warehouse], Any]], Awaitable[Any]] | None = None

    def dead_letters(self) -> DeadLetters:
        """How an agent sets a message aside (one shape, one redaction, one size limit)."""
        return DeadLetters(
            self.dead_letter,
            self.pseudonym_key,
            self.metrics,
            max_bytes=self.settings.kafka_value_max_bytes,
            log_per_minute=self.settings.dead_letter_log_per_minute,
        )

    async def batch_done(
        self,
        touched: Mapping[bytes, tuple[CallState, int]],
        reported: Mapping[bytes, ClassifiedCall],
        tally: Counter[tuple[str, str]],
        not_kept: Counter[str],
        now: float,
    ) -> None:
        """The pipeline's one hook per batch: the calls it changed or reported, the events
        it accepted by (practice, type) and those it did not keep by practice, to the live
        state and the metrics."""
        self.metrics.count_events(tally)
        self.metrics.not_kept(not_kept)
        await self.live.observe(touched, reported, now)
