"""Sending canonical events to the raw-events topic: shared by `callstream push` and HTTP ingest.

kafka-python, idempotent with ``acks=all`` (a retried send is not written twice), batched
with a short linger so a file goes out in large requests. Each event is keyed by
practice + call id so all events of a call land in one partition, and carries its canonical
v1 JSON: the raw topic is the only one that may hold the caller's number.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

from models.events import CallEvent, call_key

#: How long to try a broker that does not answer before saying so.
BOOTSTRAP_TIMEOUT_MS = 10_000


class ProducerError(Exception):
    """Kafka could not be reached or did not take every event."""


def encode_event(event: CallEvent) -> tuple[bytes, bytes]:
    """(key, value) of an event on the raw topic."""
    key = call_key(event.practice, event.call_id).encode()
    return key, event.model_dump_json(exclude_none=True).encode()


def ensure_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """Create the topics that do not exist yet, with these partition counts.

    Pushing before any worker ran must not let the broker auto-create the raw topic with
    its default partition count: the worker's call state is partitioned like it.
    """
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="callstream-admin",
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        )
    except KafkaError as exc:
        raise ProducerError(_unreachable(bootstrap, exc)) from exc
    try:
        missing = set(topics) - set(admin.list_topics())
        if missing:
            admin.create_topics(
                {
                    name: {"num_partitions": topics[name], "replication_factor": 1}
                    for name in sorted(missing)
                },
                raise_errors=False,
                wait_for_metadata=True,
            )
    finally:
        admin.close()


class EventProducer:
    """A producer of call events for one raw topic. Use as a context manager."""

    def __init__(self, bootstrap: str, topic: str, *, linger_ms: int = 20) -> None:
        self.topic = topic
        self.sent = 0
        self._errors: list[str] = []
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                client_id="callstream-producer",
                enable_idempotence=True,
                acks="all",
                linger_ms=linger_ms,
                batch_size=256 * 1024,
                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            )
        except KafkaError as exc:
            raise ProducerError(_unreachable(bootstrap, exc)) from exc

    def send(self, event: CallEvent) -> None:
        """Queue one event (returns at once; ``flush`` waits for the broker)."""
        key, value = encode_event(event)
        self.send_encoded(key, value)

    def send_encoded(self, key: bytes, value: bytes) -> None:
        future = self._producer.send(self.topic, key=key, value=value)
        future.add_errback(self._failed)
        self.sent += 1

    def _failed(self, exc: Any) -> None:
        self._errors.append(str(exc))

    def flush(self, timeout_s: float | None = 120.0) -> None:
        """Wait until the broker acknowledged every queued event, or raise."""
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise ProducerError(f"Kafka did not confirm the events in time: {exc}") from exc
        if self._errors:
            raise ProducerError(
                f"Kafka refused {len(self._errors)} event(s), e.g.: {self._errors[0]}"
            )

    def close(self) -> None:
        self._producer.close(timeout=10)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unreachable(bootstrap: str, exc: Exception) -> str:
    return (
        f"cannot reach Kafka at {bootstrap} ({exc}); start the local broker with "
        "`callstream broker start` or set CALLSTREAM_KAFKA_BOOTSTRAP"
    )
