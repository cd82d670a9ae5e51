"""A batch of classified-call messages as the warehouse takes it: parsed, latest per call.

Pure logic (no Kafka, no DuckDB). A call may be reported more than once in a batch (it
completed, then a late callback changed it); Kafka keeps one call's messages in order, so
the last one is the truth and the earlier ones are dropped before the MERGE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from models.classified import ClassifiedCall
from streams.core.normalise import Rejected, validation_reason


@dataclass(frozen=True)
class ParsedBatch:
    calls: list[ClassifiedCall]  # one per call, the latest
    rejected: list[tuple[int, Rejected]]  # index in the batch, why
    sources: list[int]  # index in the batch of each call's latest message (as ``calls``)


def latest_per_call(values: Sequence[bytes | None]) -> ParsedBatch:
    """Parse the batch; keep the last report of each call, in first-seen order."""
    latest: dict[tuple[str, str], tuple[ClassifiedCall, int]] = {}
    rejected: list[tuple[int, Rejected]] = []
    for index, value in enumerate(values):
        if not value:
            rejected.append((index, Rejected("empty classified-call message", None)))
            continue
        try:
            call = ClassifiedCall.model_validate_json(value)
        except ValidationError as exc:
            rejected.append((index, validation_reason(exc)))
            continue
        latest[(call.practice, call.call_id)] = (call, index)
    kept = list(latest.values())
    return ParsedBatch([call for call, _ in kept], rejected, [index for _, index in kept])
