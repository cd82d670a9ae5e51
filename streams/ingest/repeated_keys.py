"""JSON whose objects keep every value of a key given more than once, not only the last.

``json.loads`` keeps the last value of a repeated key without a word. A FreeSWITCH CDR
repeats keys on purpose (each leg's variables); in a canonical event a repeated field is
an error (which value was meant is not known). Both read with ``keep_repeats``.
"""

from __future__ import annotations

import json
from typing import Any


class Repeated(list):  # type: ignore[type-arg]
    """Values of a key that appeared more than once in one JSON object."""


def keep_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a repeated key's values as a ``Repeated`` list."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key not in obj:
            obj[key] = value
        elif isinstance(obj[key], Repeated):
            obj[key].append(value)
        else:
            obj[key] = Repeated([obj[key], value])
    return obj


DECODER = json.JSONDecoder(object_pairs_hook=keep_repeats)


def parse_json(text: str) -> Any:
    """JSON where a repeated key keeps all its values (as a ``Repeated`` list)."""
    return json.loads(text, object_pairs_hook=keep_repeats)
