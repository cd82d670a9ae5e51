"""A tiny Faust app for the Kafka smoke test, run as a real worker process:

    python tests/smoke_app.py worker --without-web

It forwards every message of the input topic to the output topic unchanged, so the test
can read back what the agent consumed. Topic names, app id and broker come from the
environment (SMOKE_*), so each run has its own topics and consumer group.
"""

from __future__ import annotations

import os

import faust

IN_PARTITIONS = int(os.environ.get("SMOKE_IN_PARTITIONS", "6"))
OUT_PARTITIONS = int(os.environ.get("SMOKE_OUT_PARTITIONS", "3"))

app = faust.App(
    os.environ.get("SMOKE_APP_ID", "callstream-smoke"),
    broker=f"kafka://{os.environ.get('SMOKE_BOOTSTRAP', '127.0.0.1:9092')}",
    store="memory://",
    datadir=os.environ.get("SMOKE_DATADIR", "smoke-data"),
    autodiscover=False,
    topic_replication_factor=1,
    topic_disable_leader=True,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
)

# internal=True: the worker creates the topics with these partition counts.
source = app.topic(
    os.environ.get("SMOKE_TOPIC_IN", "smoke-in"),
    partitions=IN_PARTITIONS,
    internal=True,
    key_serializer="raw",
    value_serializer="raw",
)
sink = app.topic(
    os.environ.get("SMOKE_TOPIC_OUT", "smoke-out"),
    partitions=OUT_PARTITIONS,
    internal=True,
    key_serializer="raw",
    value_serializer="raw",
)


@app.agent(source)
async def forward(stream: faust.StreamT[bytes]) -> None:
    """Send each consumed message on, keyed as it came."""
    await sink.maybe_declare()  # before the first send could auto-create it
    async for event in stream.events():
        await sink.send(key=event.key, value=event.value)


if __name__ == "__main__":
    app.main()
