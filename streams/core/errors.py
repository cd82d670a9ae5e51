"""The one place a pydantic ``ValidationError`` becomes words a user reads.

Every boundary (HTTP, files, the raw topic, rules files) reports bad input through
``problems``/``one_line``, so a field is named the same way everywhere. The input value is
never included: it could be a caller's number. Neither is a field name as sent (an unknown
key is client text): it is cut to ``MAX_FIELD_CHARS`` and phone numbers in it are masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from streams.core.redact import masked

#: A whole-event rule names its field in its message: "field 'caller' is required ...".
NAMED_FIELD = re.compile(r"field '(\w+)'")
#: Longest field name shown; a client may send any key.
MAX_FIELD_CHARS = 64


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, without its value."""

    field: str | None  # the dotted location, else the field a whole-model rule names
    message: str  # pydantic's message, without its "Value error, " prefix
    kind: str  # pydantic's error type: json_invalid, extra_forbidden, missing, ...
    located: bool  # pydantic gave a location (False for whole-model rules)

    def text(self, quoted: bool = False) -> str:
        """``at: msg`` (or ``field 'at': msg`` when ``quoted``); the message alone when the
        problem has no location (its message already names the field)."""
        if not self.located:
            return self.message
        return (
            f"field '{self.field}': {self.message}" if quoted else f"{self.field}: {self.message}"
        )


def problems(exc: ValidationError) -> list[Problem]:
    """Each problem of a pydantic error, in pydantic's order."""
    found: list[Problem] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = field_name(".".join(str(part) for part in err["loc"]))
        message = masked(err["msg"].removeprefix("Value error, "))
        named = NAMED_FIELD.search(message)
        field = loc or (named.group(1) if named else None)
        found.append(Problem(field, message, err["type"], bool(loc)))
    return found


def one_line(exc: ValidationError, *, quoted: bool = False) -> str:
    """Every problem on one line, ``; `` between them."""
    return "; ".join(problem.text(quoted) for problem in problems(exc))


def field_name(name: str) -> str:
    """A field name as sent, fit to show: numbers masked, at most ``MAX_FIELD_CHARS``."""
    shown = masked(name)
    return shown if len(shown) <= MAX_FIELD_CHARS else shown[: MAX_FIELD_CHARS - 1] + "…"


def unreadable_text(exc: Exception) -> str:
    """Why a YAML (or any text) file could not be read, in one line: PyYAML's problem and
    where (``mapping values are not allowed here, line 3, column 9``), or that the text is
    not UTF-8, or the OS's reason."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start + 1}): save it as UTF-8"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if problem is None:
        return " ".join(str(exc).split())
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML: {problem}{where}"
