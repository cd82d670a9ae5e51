"""The one way a worker agent sets a message aside: onto the dead-letter topic, with why.

Both agents (pipeline and writer) send through ``DeadLetters``, so every dead letter has the
same shape (streams.core.dead_letter), the same redaction, and the same log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from faust.types import TopicT

from models.events import PseudonymisedEvent
from streams.core.dead_letter import in_parts, make_dead_letter
from streams.core.normalise import Rejected
from streams.worker.metrics import Metrics

log = logging.getLogger(__name__)


class DeadLetters:
    """Sends rejected messages to the dead-letter topic, callers pseudonymised."""

    def __init__(
        self,
        topic: TopicT,
        pseudonym_key: bytes,
        metrics: Metrics | None = None,
        *,
        max_bytes: int = 1_000_000,
    ) -> None:
        self.topic = topic
        self.pseudonym_key = pseudonym_key
        self.metrics = metrics
        #: settings ``kafka_message_max_bytes``: a larger letter is sent in parts.
        self.max_bytes = max_bytes

    async def send(
        self,
        value: bytes | None,
        why: Rejected,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        events: int = 1,
    ) -> None:
        """Keep ``value`` (redacted) with the reason and where it came from; ``events``:
        how many call events it holds."""
        letter = make_dead_letter(
            value or b"",
            why.reason,
            why.field,
            topic=topic,
            partition=partition,
            offset=offset,
            message_key=key,
            pseudonym_key=self.pseudonym_key,
            events=events,
        )
        shown_key = letter.source_key.encode() if letter.source_key else None
        # Kafka counts the key and a record's framing (under 100 bytes) against the limit.
        pieces = in_parts(letter, self.max_bytes - len(shown_key or b"") - 512)
        log.warning(
            "dead letter from %s[%d]@%d%s: %s",
            topic,
            partition,
            offset,
            f" (in {len(pieces)} parts)" if len(pieces) > 1 else "",
            letter.reason,
        )
        if self.metrics is not None:
            self.metrics.dead_letter(why.field)
        for piece in pieces:
            await self.topic.send(key=shown_key, value=piece.to_bytes())

    async def send_call(
        self,
        events: Sequence[PseudonymisedEvent],
        why: Rejected,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
    ) -> None:
        """Set a whole call aside: its events (a JSON array) with why. ``offset`` is the
        message that led to it, or -1 when none did (a timer)."""
        events_json = json.dumps([event.model_dump(mode="json") for event in events])
        await self.send(
            events_json.encode(),
            why,
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            events=len(events),
        )
