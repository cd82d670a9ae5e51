"""A whole file's events -> its classified calls, as ``callstream classify`` reports them.

Pure (no Kafka, no DuckDB): events are pseudonymised as they are read (the raw number is
not kept), gathered per call, then classified and sorted. Memory grows with the calls,
not with the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.classified import ClassifiedCall
from models.events import EventType
from streams.assemble import CallAssembly
from streams.classify import classify_assembly
from streams.formats import LineResult
from streams.pseudonymise import pseudonymise
from streams.rules import Rules


@dataclass
class ClassifyRun:
    """The state of one classify run: calls by key, counts of what was read."""

    key: bytes
    calls: dict[str, CallAssembly] = field(default_factory=dict)
    events: int = 0
    duplicates: int = 0
    invalid: int = 0

    def take(self, parsed: LineResult) -> bool:
        """Add a parsed line's event; False when the line was invalid (count it)."""
        event = parsed.event
        if event is None:
            self.invalid += 1
            return False
        safe = pseudonymise(event, self.key)
        assembly = self.calls.get(safe.key)
        if assembly is None:
            assembly = self.calls[safe.key] = CallAssembly()
        self.events += 1
        if not assembly.add(safe):
            self.duplicates += 1
        return True

    def orphans(self) -> list[tuple[str, int]]:
        """Calls with nothing but ``callback_made`` events: reporting them would make up a
        call (the streaming worker dead-letters them), so they are listed instead."""
        return [(k, len(a)) for k, a in self.calls.items() if _orphan(a)]

    def classified(self, rules: Rules) -> list[ClassifiedCall]:
        """Every call but orphans, classified, by start time then practice and call id."""
        calls = [classify_assembly(a, rules) for a in self.calls.values() if not _orphan(a)]
        calls.sort(key=lambda c: (c.started_at, c.practice, c.call_id))
        return calls

    def summary(self, classified: list[ClassifiedCall], orphans: int) -> str:
        """One line for stderr: what was read and what came out."""
        complete = sum(1 for c in classified if c.complete)
        parts = [
            f"{len(classified)} calls ({complete} complete, {len(classified) - complete} "
            "incomplete)",
            f"{self.events} events read ({self.duplicates} repeated event_ids ignored)",
            f"{self.invalid} invalid lines",
        ]
        if orphans:
            parts.append(f"{orphans} calls with only callback_made events not classified")
        return ", ".join(parts)


def _orphan(assembly: CallAssembly) -> bool:
    return all(e.type is EventType.callback_made for e in assembly.events)
