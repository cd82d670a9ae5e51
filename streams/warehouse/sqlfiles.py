"""The SQL files under ``sql/``: Python reads them instead of embedding long SQL strings.

Migrations and views are applied in a fixed order (file name order for migrations), so a
listing here is the single place that decides which file is applied when.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: The repository's ``sql/`` directory (the package is installed editable, next to it).
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class SqlFileError(Exception):
    """A file under ``sql/`` is missing or misnamed; the message names the file."""


@dataclass(frozen=True)
class SqlFile:
    """One SQL file: its name (``views/calls.sql`` -> ``calls``), path and text."""

    name: str
    path: Path
    text: str


@dataclass(frozen=True)
class Migration:
    """A numbered DDL file applied once, in version order."""

    version: int
    name: str
    path: Path
    text: str


def read(relative: str, root: Path = SQL_DIR) -> str:
    """The text of ``sql/<relative>``; a clear error naming the file when it is missing."""
    path = root / relative
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SqlFileError(f"SQL file {path} is missing") from None


def migrations(root: Path = SQL_DIR) -> list[Migration]:
    """Every ``sql/migrations/NNN_name.sql`` in version order; duplicate versions are errors."""
    found: dict[int, Migration] = {}
    for path in sorted((root / "migrations").glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise SqlFileError(f"migration {path} is not named NNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise SqlFileError(f"migrations {found[version].path} and {path} share a version")
        found[version] = Migration(version, path.stem, path, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def views(root: Path = SQL_DIR) -> list[SqlFile]:
    """Every ``sql/views/<name>.sql``, sorted by name (dependencies are resolved on apply)."""
    return [
        SqlFile(path.stem, path, path.read_text(encoding="utf-8"))
        for path in sorted((root / "views").glob("*.sql"))
    ]


_COMMENT = re.compile(r"--[^\n]*")


def dependency_order(files: list[SqlFile]) -> list[SqlFile]:
    """Views ordered so each comes after the views its SQL names (comments ignored).

    A name match is only a hint (a column may share a view's name); the caller still
    copes with a wrong order. Cycles keep name order for the rest.
    """
    by_name = {f.name: f for f in files}
    needs: dict[str, set[str]] = {}
    for f in files:
        code = _COMMENT.sub("", f.text).lower()
        needs[f.name] = {
            other
            for other in by_name
            if other != f.name and re.search(rf"\b{re.escape(other.lower())}\b", code)
        }
    ordered: list[SqlFile] = []
    done: set[str] = set()
    while len(done) < len(files):
        ready = [n for n in sorted(by_name) if n not in done and needs[n] <= done]
        if not ready:  # a cycle: let the database report it
            ready = [n for n in sorted(by_name) if n not in done]
        for name in ready:
            ordered.append(by_name[name])
            done.add(name)
    return ordered
