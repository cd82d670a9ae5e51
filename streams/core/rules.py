"""Practice routing rules: IVR options, teams and opening hours, as versioned YAML.

Rules are configuration, not code: a practice changes its phone menu by editing a YAML
file, and every classified call records the ``version`` of the rules that classified it.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from models.events import ODS_PATTERN, DivertTarget, RequestType, Role
from streams.core import errors
from streams.core.phone_numbers import team_or_unknown

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def team_key(name: str) -> str:
    """What identifies a team: its name ignoring case and surrounding space, as phone systems
    spell one team differently (``Reception``, ``reception``)."""
    return name.strip().casefold()


class Team(BaseModel):
    """A team calls can reach: the role of its people and the requests it is meant for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    handles: tuple[RequestType, ...] = ()


class OpeningHours(BaseModel):
    """One day's opening hours, local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open: time
    close: time

    @model_validator(mode="after")
    def _open_before_close(self) -> OpeningHours:
        if self.close <= self.open:
            raise ValueError("close must be after open")
        return self


def keys_as_text(value: Any) -> Any:
    """A mapping's keys as text: YAML reads ``201: reception`` with a number for a key, and
    extensions and phone numbers are text."""
    if isinstance(value, dict):
        return {str(k).strip(): v for k, v in value.items()}
    return value


class PhoneSystem(BaseModel):
    """How the practice's own phone system shows in its files (Asterisk CDR, FreeSWITCH).

    A call placed on one of the practice's phones is not an external inbound call, whatever
    dialplan context it ran in; an extension is what ``extension_pattern`` matches.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    extension_pattern: str = r"^[1-9][0-9]{1,4}$"
    asterisk_outbound_contexts: tuple[str, ...] = ("from-internal",)
    freeswitch_outbound_contexts: tuple[str, ...] = ("default",)
    #: Keys that, pressed while queueing (queue_log EXITWITHKEY), ask for a callback (CBT005);
    #: none unless the practice's queue offers one (any other key is a missed call).
    queue_log_callback_keys: tuple[str, ...] = ()
    #: Numbers the phone system dials to send a caller to another organisation (an IVR's
    #: "press 3 for the pharmacy", NHS 111): such a dial is an ``ivr_divert`` (CBT002), not
    #: someone at the practice answering. Keyed by the number as dialled (digits compared).
    divert_numbers: dict[str, DivertTarget] = Field(default_factory=dict)

    def divert_for(self, dialled: str | None) -> DivertTarget | None:
        """The organisation a dialled number diverts to, or None (digits compared, so
        ``0163 296 0123`` in the rules matches ``PJSIP/01632960123@trunk``'s number)."""
        digits = re.sub(r"\D", "", dialled or "")
        if not digits:
            return None
        for number, target in self.divert_numbers.items():
            if re.sub(r"\D", "", number) == digits:
                return target
        return None

    @field_validator("divert_numbers", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict) and any(not isinstance(key, str) for key in value):
            raise ValueError(
                'write each number in quotes ("111": nhs111): YAML reads some numbers '
                "that start with 0 as another number"
            )
        return keys_as_text(value)

    @field_validator("extension_pattern")
    @classmethod
    def _is_a_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc})") from None
        return value


#: Longest answer-within time a staffing target may have: an hour (Erlang C plans quarter
#: hours; past an hour its figures overflow and mean nothing).
LONGEST_WITHIN_S = 3600


class StaffingTarget(BaseModel):
    """A practice's own service target for the staffing model (docs/staffing.md); a field
    left out keeps the ``CALLSTREAM_STAFFING_*`` setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float | None = Field(None, gt=0, lt=1)
    within_s: int | None = Field(None, gt=0, le=LONGEST_WITHIN_S)
    shrinkage: float | None = Field(None, ge=0, lt=1)


class Rules(BaseModel):
    """The routing rules of a practice (or the default for all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    ivr_options: dict[str, RequestType] = Field(default_factory=dict)
    teams: dict[str, Team] = Field(default_factory=dict)
    default_role: Role = "care_navigator"
    opening_hours: dict[Weekday, OpeningHours] = Field(default_factory=dict)
    extensions: dict[str, str] = Field(default_factory=dict)
    phone_system: PhoneSystem = Field(default_factory=PhoneSystem)
    staffing: dict[Annotated[str, StringConstraints(pattern=ODS_PATTERN)], StaffingTarget] = Field(
        default_factory=dict
    )
    _teams_folded: dict[str, Team] = PrivateAttr(default_factory=dict)
    _extension: re.Pattern[str] = PrivateAttr(default=re.compile(""))

    @field_validator("extensions", mode="before")
    @classmethod
    def _extensions_as_text(cls, value: Any) -> Any:
        return keys_as_text(value)

    @model_validator(mode="after")
    def _index(self) -> Rules:
        self._teams_folded = {team_key(name): team for name, team in self.teams.items()}
        self._extension = re.compile(self.phone_system.extension_pattern)
        return self

    def request_type_for(self, option: str | None) -> str | None:
        """The request type an IVR key means, or None when the rules do not know it."""
        if option is None:
            return None
        return self.ivr_options.get(option.strip())

    def team(self, name: str | None) -> Team | None:
        """The rules' entry for a team, or None when unknown."""
        if name is None:
            return None
        return self._teams_folded.get(team_key(name))

    def role_for_team(self, team: str | None) -> str:
        """The role of a team's people; ``default_role`` for a team the rules do not list."""
        known = self.team(team)
        return known.role if known is not None else self.default_role

    def team_for(self, value: str | None) -> str:
        """The team a phone system's extension, queue or ring group stands for: the rules'
        ``extensions`` entry, else the value itself; ``unknown`` for none or a phone number."""
        name = (value or "").strip()
        return team_or_unknown(self.extensions.get(name, name))

    def is_extension(self, value: str | None) -> bool:
        """Whether a phone system's value is one of the practice's own extensions."""
        name = (value or "").strip()
        return name in self.extensions or bool(name and self._extension.fullmatch(name))

    def knows_team(self, value: str | None) -> bool:
        """Whether a value names a team: an extension (or one the rules map) or a rules team."""
        return self.is_extension(value) or self.team(value) is not None

    def handles(self, team: str | None, request_type: str | None) -> bool | None:
        """Whether a team is meant for a request type; None when either is unknown."""
        known = self.team(team)
        if known is None or request_type is None:
            return None
        return request_type in known.handles


DEFAULT_RULES = "default.yaml"
#: Packaged next to this module (``streams/core/rules/``, package data in pyproject.toml).
DEFAULT_RULES_FILE = Path(__file__).with_name("rules") / DEFAULT_RULES


def load_rules(path: Path | None = None) -> Rules:
    """Rules from a YAML file; ``None`` means the packaged default rules.

    Raises ``ValueError`` with one line naming the file and the bad field.
    """
    if path is None:
        text = DEFAULT_RULES_FILE.read_text("utf-8")
        where = f"default rules ({DEFAULT_RULES})"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"cannot read rules file {path}: {errors.unreadable_text(exc)}"
            ) from None
        where = str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"rules file {where} is {errors.unreadable_text(exc)}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"rules file {where} must be a YAML mapping with a 'version'")
    if isinstance(raw.get("version"), int | float):
        raw["version"] = str(raw["version"])
    try:
        return Rules.model_validate(raw)
    except ValidationError as exc:
        first = errors.problems(exc)[0]
        field = first.field if first.located else "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValueError(f"rules file {where}: field '{field}': {first.message}{more}") from exc
