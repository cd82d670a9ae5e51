"""The one way a worker agent sets a message aside: onto the dead-letter topic, with why.

Both agents (pipeline and writer) send through ``DeadLetters``, so every dead letter has the
same shape (streams.core.dead_letter), the same redaction, and the same log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence

from faust.types import TopicT

from models.events import PseudonymisedEvent
from streams.core.dead_letter import DeadLetter, in_parts, make_dead_letter
from streams.core.normalise import Rejected
from streams.ingest.rate_limit import RateLimiter
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
        max_bytes: int,
        log_per_minute: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic = topic
        self.pseudonym_key = pseudonym_key
        self.metrics = metrics
        #: settings ``kafka_value_max_bytes``: a larger letter (with its key) goes in parts.
        self.max_bytes = max_bytes
        #: settings ``dead_letter_log_per_minute``: a phone system sending nothing but bad
        #: events must not bury every other log line; the topic and the metric keep them all.
        self._log_limit = RateLimiter(log_per_minute, clock)
        self._unlogged = 0

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
        pieces = in_parts(letter, self.max_bytes - len(shown_key or b""))
        self._log(letter, len(pieces))
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

    def _log(self, letter: DeadLetter, parts: int) -> None:
        if self._log_limit.acquire("dead letters") > 0:
            self._unlogged += 1
            return
        log.warning(
            "dead letter from %s[%d]@%d%s: %s%s",
            letter.source_topic,
            letter.source_partition,
            letter.source_offset,
            f" (in {parts} parts)" if parts > 1 else "",
            letter.reason,
            f" ({self._unlogged} more dead letters before this one were not logged: over "
            "dead_letter_log_per_minute; the topic keeps them and "
            "callstream_dead_letters_total counts them)"
            if self._unlogged
            else "",
        )
        self._unlogged = 0

    def log_unlogged(self) -> None:
        """Say how many letters were not logged, once a flood has stopped (the pipeline's
        sweep calls it): otherwise that count waits for the next letter, maybe for days."""
        if self._unlogged and self._log_limit.acquire("dead letters") == 0:
            log.warning(
                "%d dead letters were not logged: over dead_letter_log_per_minute; the "
                "topic keeps them and callstream_dead_letters_total counts them",
                self._unlogged,
            )
            self._unlogged = 0
