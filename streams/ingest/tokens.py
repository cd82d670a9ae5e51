"""Per-practice ingest tokens: created once, shown once, kept only as hashes.

A token is ``cst_<id>_<secret>`` with 256 random bits of secret; the store keeps its
SHA-256 (a fast hash is enough for a random secret: nothing to brute-force), its public
id, its practice, its scope and when it was created or revoked. The scope says what the
token may do: ``ingest`` push the practice's events (records written before scopes existed
read as ingest), ``wallboard`` only read the practice's live wallboard. A wallboard token
may instead be for a PCN or an ICB (its ``level``): it reads that organisation's roll-up
board, and no practice's own. The store is one
JSON file under the data dir with permissions 0600, rewritten atomically under a lock, so
the CLI can create or revoke while a worker is reading it; the worker re-reads it when it
changes, so a revocation takes effect on the next request.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from models.events import ODS_PATTERN
from streams.core.errors import one_line
from streams.core.redact import masked

PREFIX = "cst"
STORE_NAME = "ingest_tokens.json"
#: Longest token label: a note to tell tokens apart, shown in `tokens list`.
MAX_LABEL_CHARS = 200
Scope = Literal["ingest", "wallboard"]
SCOPES: tuple[Scope, ...] = ("ingest", "wallboard")
#: Whom a token is for: a practice, or a PCN / ICB (their wallboard roll-up only).
Level = Literal["practice", "pcn", "icb"]
LEVELS: tuple[Level, ...] = ("practice", "pcn", "icb")
#: PCN codes (U00351) and ICB codes (QHM), as NHS England's practice mapping has them.
ORGANISATION_PATTERN = r"^[A-Z0-9]{3,6}$"
CODE_PATTERNS: dict[Level, str] = {
    "practice": ODS_PATTERN,
    "pcn": ORGANISATION_PATTERN,
    "icb": ORGANISATION_PATTERN,
}
_CODE_EXAMPLES: dict[Level, str] = {
    "practice": "an ODS practice code (like A81001)",
    "pcn": "a PCN code (like U00351)",
    "icb": "an ICB code (like QHM)",
}
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


class TokenError(Exception):
    """A token operation that cannot be done; the message says why, in one line."""


class TokenRecord(BaseModel):
    """What is stored about one token (never the token itself)."""

    id: str
    practice: str | None = Field(None, pattern=ODS_PATTERN)
    sha256: str
    created_at: datetime
    revoked_at: datetime | None = None
    label: str = ""
    scope: Scope = "ingest"
    pcn: str | None = Field(None, pattern=ORGANISATION_PATTERN)
    icb: str | None = Field(None, pattern=ORGANISATION_PATTERN)

    @model_validator(mode="after")
    def _one_organisation(self) -> TokenRecord:
        if sum(code is not None for code in (self.practice, self.pcn, self.icb)) != 1:
            raise ValueError("a token is for exactly one of a practice, a PCN or an ICB")
        if self.level != "practice" and self.scope != "wallboard":
            raise ValueError(f"a {self.level.upper()} token can only be a wallboard token")
        return self

    @property
    def level(self) -> Level:
        return "practice" if self.practice is not None else "pcn" if self.pcn else "icb"

    @property
    def code(self) -> str:
        return self.practice or self.pcn or self.icb or ""

    @property
    def owner(self) -> str:
        """Whom it is for, as people say it: ``practice A81001``, ``PCN U00351``."""
        return describe(self.level, self.code)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class _StoreFile(BaseModel):
    version: int = 1
    tokens: list[TokenRecord] = []


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The token file of one data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache_stamp: tuple[int, int, int] | None = None
        self._by_hash: dict[str, TokenRecord] = {}

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> TokenStore:
        return cls(data_dir / STORE_NAME)

    def create(
        self, code: str, label: str = "", scope: Scope = "ingest", level: Level = "practice"
    ) -> tuple[str, TokenRecord]:
        """A new token for the practice (or PCN, ICB: ``level``) ``code``: (the token, to
        show once; its stored record)."""
        _check_code(code, level)
        if len(label) > MAX_LABEL_CHARS or any(not ch.isprintable() for ch in label):
            raise TokenError(
                f"--label: at most {MAX_LABEL_CHARS} characters on one line, e.g. the PBX supplier"
            )
        if scope not in SCOPES:
            raise TokenError(f"'{scope}' is not a token scope: use one of {', '.join(SCOPES)}")
        if level != "practice" and scope != "wallboard":
            raise TokenError(
                f"a {level.upper()} token can only read its wallboard: use --scope wallboard"
            )
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        record = TokenRecord.model_validate(
            {
                "id": token_id,
                level: code,
                "sha256": hash_token(token),
                "created_at": datetime.now(UTC),
                "label": masked(label),  # a note, never a number to keep
                "scope": scope,
            }
        )
        with self._locked() as store:
            store.tokens.append(record)
            self._write(store)
        return token, record

    def revoke(self, code: str, token_id: str, level: Level = "practice") -> TokenRecord:
        """Revoke one token of the practice (or PCN, ICB) ``code`` by its id (as `list`
        shows it)."""
        with self._locked() as store:
            for i, record in enumerate(store.tokens):
                if record.id != token_id:
                    continue
                if (record.level, record.code) != (level, code):
                    raise TokenError(
                        f"token {token_id} belongs to {record.owner}, not {describe(level, code)}"
                    )
                if not record.active:
                    raise TokenError(f"token {token_id} was already revoked at {record.revoked_at}")
                store.tokens[i] = record.model_copy(update={"revoked_at": datetime.now(UTC)})
                self._write(store)
                return store.tokens[i]
        raise TokenError(f"no token with id {token_id}; `callstream tokens list` shows the ids")

    def records(self, code: str | None = None, level: Level = "practice") -> list[TokenRecord]:
        """Every token record, of one practice (or PCN, ICB) when given, oldest first."""
        if code is not None:
            _check_code(code, level)  # a mistyped code is named, not answered "no tokens"
        records = self._read().tokens
        return [r for r in records if code is None or (r.level, r.code) == (level, code)]

    def verify(self, token: str) -> TokenRecord | None:
        """The active record of ``token``, or None if it is malformed, unknown or revoked."""
        if not _TOKEN.match(token):
            return None
        self._refresh()
        digest = hash_token(token)
        record = self._by_hash.get(digest)
        if record is None or not hmac.compare_digest(record.sha256, digest):
            return None
        return record if record.active else None

    def _refresh(self) -> None:
        """Re-read the file if it changed since last time (it is replaced, never edited)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._cache_stamp, self._by_hash = None, {}
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._cache_stamp:
            self._by_hash = {r.sha256: r for r in self._read().tokens}
            self._cache_stamp = stamp

    def _read(self) -> _StoreFile:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return _StoreFile()
        except UnicodeDecodeError:
            raise TokenError(
                f"token store {self.path} is damaged (not UTF-8 text): restore it from a "
                "backup, or move it aside and issue the tokens again"
            ) from None
        try:
            return _StoreFile.model_validate_json(text)
        except ValidationError as exc:
            raise TokenError(
                f"token store {self.path} is damaged ({one_line(exc)}): restore it from a "
                "backup, or move it aside and issue the tokens again"
            ) from None

    @contextmanager
    def _locked(self) -> Iterator[_StoreFile]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._read()
        finally:
            os.close(fd)

    def _write(self, store: _StoreFile) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(store.model_dump(mode="json"), indent=2))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # a temp file left by a crash may have had other permissions
        os.replace(tmp, self.path)


def describe(level: Level, code: str) -> str:
    """An organisation as people say it: ``practice A81001``, ``PCN U00351``, ``ICB QHM``."""
    return f"{'practice' if level == 'practice' else level.upper()} {code}"


def _check_code(code: str, level: Level) -> None:
    if level not in LEVELS:
        raise TokenError(f"'{level}' is not a token level: use one of {', '.join(LEVELS)}")
    if not re.match(CODE_PATTERNS[level], code):
        raise TokenError(f"'{code}' is not {_CODE_EXAMPLES[level]}")
