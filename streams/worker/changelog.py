"""Table changes and other records as bytes, straight to the app's producer; where a key goes.

Faust lets a table change only while processing one event (to know the changelog
partition). The pipeline's batches, the live agent and the timers know it better: a call's
changelog partition is its raw one, a practice's is its live one. These messages skip Faust's
per-message channel layer (a future, two serialiser look-ups and a debug log per message:
the larger part of what sending cost the worker) but not its producer, which Faust flushes
before it commits offsets, so a change is durable before the events that caused it are
committed. The bytes are what the table's codec would have written.
"""

from __future__ import annotations

from typing import Any

from faust import App, Table
from faust.types import ProducerT
from kafka.partitioner.default import murmur2


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (kafka-python and aiokafka alike) picks."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class TableWriter:
    """Writes one table's changes (its in-memory data and its changelog) at a given partition."""

    def __init__(self, app: App, table: Table) -> None:
        self._app = app
        self._table = table
        self._producer: ProducerT | None = None
        self._changelog: str | None = None

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None
    ) -> None:
        if self._producer is None:
            self._producer = await self._app.maybe_start_producer()
        await self._producer.send(topic, key, value, partition, None, None)

    async def save(self, key: bytes, value: Any, encoded: bytes, partition: int) -> None:
        """``value`` into the table, ``encoded`` (its changelog bytes) to the changelog."""
        self._table.data[key] = value
        await self.send(self._changelog_name(), key, encoded, partition)

    async def forget(self, key: bytes, partition: int) -> None:
        self._table.data.pop(key, None)
        await self.send(self._changelog_name(), key, None, partition)  # tombstone

    def _changelog_name(self) -> str:
        if self._changelog is None:
            self._changelog = self._table.changelog_topic.get_topic_name()
        return self._changelog
