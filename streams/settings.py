"""The one settings object: every knob is an environment variable prefixed ``CALLSTREAM_``.

Defaults are chosen for a single laptop or server; larger deployments change settings,
never code. ``callstream --help`` and the README list them.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

if TYPE_CHECKING:
    from models.events import EventBounds
    from streams.core.assemble import CallSpan

PREFIX = "CALLSTREAM_"
#: The longest any ``*_s`` setting may be: 100 years.
MAX_SECONDS = 100 * 365 * 24 * 3600.0


def environment() -> dict[str, str]:
    """The ``CALLSTREAM_*`` variables, by field name (any case, as pydantic-settings read them).

    Read here rather than through pydantic-settings, whose import alone took most of a
    second of ``callstream sql``'s start-up on this machine; every field is a scalar pydantic
    parses from its text."""
    return {
        name[len(PREFIX) :].lower(): value
        for name, value in os.environ.items()
        if name.upper().startswith(PREFIX)
    }


class Settings(BaseModel):
    """All configuration of callstream. Field ``foo`` is read from ``CALLSTREAM_FOO``; a value
    given to the constructor wins over the environment."""

    # A float that is NaN or infinite is no setting: nan seconds spun `dashboards serve`.
    model_config = ConfigDict(extra="ignore", validate_default=True, allow_inf_nan=False)

    def __init__(self, **values: Any) -> None:
        super().__init__(**(environment() | values))

    # --- contract settings (design.md) ---
    data_dir: Path = Field(Path("./data"), description="All local state: warehouse, broker data.")
    kafka_bootstrap: str | None = Field(
        None,
        description="Kafka bootstrap servers, host:port separated by commas; unset: the broker "
        "`broker start` recorded.",
    )
    pseudonymisation_key: SecretStr | None = Field(
        None, description="HMAC key for caller pseudonyms; unset: a development key under data_dir."
    )
    web_port: int = Field(
        6066,
        ge=1,
        le=65534,
        description="Port of the worker's web server (HTTP ingest, views); `dashboards serve` "
        "listens on the next one unless given --port.",
    )
    web_bind: str = Field(
        "127.0.0.1",
        description="Address the worker's web server listens on; 0.0.0.0 only behind a TLS "
        "reverse proxy (docs/http-api.md).",
    )
    web_header_timeout_s: float = Field(
        20.0,
        gt=0,
        description="A client that has not sent its request headers this long after connecting "
        "(or after its last answer) is disconnected.",
    )

    # --- local broker ---
    kafka_version: str = Field("3.9.1", description="Apache Kafka version fetched from Maven.")
    kafka_cache_dir: Path = Field(
        Path.home() / ".cache" / "callstream" / "kafka",
        description="Where the broker's jars are cached (outside the repo, reused offline).",
    )
    broker_heap: str = Field("512m", description="Java heap of the local broker.")
    broker_start_timeout_s: float = Field(60.0, description="How long `broker start` waits.")
    broker_port: int = Field(
        0, description="Port of the local broker; 0: the last one used if free, else any free one."
    )

    # --- topics and worker ---
    app_id: str = Field("callstream", description="Faust application id (consumer group prefix).")
    topic_partitions: int = Field(4, description="Partitions of the callstream topics.")
    topic_raw_events: str = Field("callstream.events.raw", description="Raw call events topic.")
    topic_classified: str = Field("callstream.calls.classified", description="Classified calls.")
    topic_dead_letter: str = Field("callstream.events.dead", description="Invalid input, kept.")
    dead_letter_log_per_minute: int = Field(
        60,
        ge=1,
        description="The most dead letters a worker logs (a WARNING each) per minute, after a "
        "burst of as many; the next line logged says how many were not. The topic keeps "
        "every one and callstream_dead_letters_total counts them.",
    )
    topic_live: str = Field(
        "callstream.live.practices",
        description="Changed calls per practice, for the live state behind the wallboards.",
    )
    call_timeout_s: float = Field(
        4 * 3600.0, description="A call with no call_ended is closed (complete=false) after this."
    )
    call_retention_s: float = Field(
        2 * 24 * 3600.0,
        description="A closed call is evicted from the worker's state this long after its last "
        "event (late callbacks arrive within it).",
    )
    callback_retention_s: float = Field(
        7 * 24 * 3600.0,
        description="A closed call that requested a callback (CBT005) is kept this long after "
        "its last event instead, so a callback made after a weekend or a bank holiday still "
        "counts for CBT006 (a later one is dead-lettered).",
    )
    sweep_interval_s: float = Field(
        60.0, description="How often the worker looks for calls to time out or evict."
    )
    worker_session_timeout_s: float = Field(
        60.0, description="A worker silent this long is presumed dead and its partitions move."
    )
    gc_freeze_every_s: float = Field(
        10.0,
        ge=0,
        description="At start and then this often the worker collects the objects made since "
        "the last time and moves the survivors (mostly its tables' calls) out of Python's full "
        "garbage collections, which otherwise scan every call held and stop the worker for "
        "seconds at national scale; 0: never.",
    )
    gc_full_every_s: float = Field(
        3600.0,
        gt=0,
        description="With gc_freeze_every_s, this often the worker collects everything it "
        "holds (garbage cycles among the moved objects are freed only then).",
    )
    pipeline_batch_size: int = Field(
        2000, description="Raw events the worker takes at once (one state write per call)."
    )
    pipeline_batch_seconds: float = Field(
        0.2,
        description="Shortest time between two batches of raw events: the longest the worker "
        "holds an event before processing it, unless the batch before is still running.",
    )
    call_max_span_s: float = Field(
        4 * 3600.0,
        description="An event more than this before or after its call's call_started is "
        "dead-lettered (field at), in whatever order they came; callback_made may come up to "
        "callback_retention_s after it.",
    )
    call_max_events: int = Field(
        600,
        ge=10,
        le=700,
        description="The most events one call holds (then one more of each type it has none "
        "of, such as its end); more are dead-lettered (field call_id). From half of it, a later "
        "ringing, queue join or answer than the call's first is not kept (it changes nothing). "
        "The call's state is one Kafka message, which kafka_message_max_bytes also bounds.",
    )
    kafka_message_max_bytes: int = Field(
        1_000_000,
        ge=200_000,
        description="The largest message the worker writes to Kafka (its producer's "
        "max.request.size; keep it at most the broker's message.max.bytes). A call's saved "
        "state stays under it: an event that would take the call past it, less room for one "
        "event of each type the call lacks, is dead-lettered (field call_id); a dead letter "
        "larger than it is written in parts.",
    )
    event_earliest: AwareDatetime = Field(
        datetime(2020, 1, 1, tzinfo=UTC),
        description="Events before this time are rejected (field at).",
    )
    event_max_future_s: float = Field(
        24 * 3600.0, description="Events more than this far in the future are rejected (field at)."
    )
    rules_file: Path | None = Field(
        None, description="Practice routing rules YAML; unset: the packaged default rules."
    )
    cdr_timezone: str = Field(
        "Europe/London",
        description="Time zone of the times in Asterisk CDR files (they carry none).",
    )

    # --- warehouse ---
    catalog: str | None = Field(
        None,
        description="DuckLake catalog: unset = SQLite under data_dir; or e.g. "
        "'postgres:dbname=callstream host=...'.",
    )
    data_path: str | None = Field(
        None, description="DuckLake Parquet location: unset = data_dir/warehouse/files; or s3://..."
    )
    catalog_password: SecretStr | None = Field(
        None,
        description="Password of the PostgreSQL catalog (keep it out of CALLSTREAM_CATALOG); "
        "unset: none, or libpq's PGPASSWORD / ~/.pgpass.",
    )
    s3_endpoint: str | None = Field(
        None,
        description="host:port of an S3-compatible store (MinIO) for an s3:// data path; "
        "unset: AWS S3.",
    )
    s3_region: str = Field("us-east-1", description="Region of the s3:// data path's bucket.")
    s3_key_id: str | None = Field(None, description="Access key id for the s3:// data path.")
    s3_secret: SecretStr | None = Field(
        None, description="Secret access key for the s3:// data path (never logged)."
    )
    s3_use_ssl: bool = Field(True, description="HTTPS to the object store (false: plain HTTP).")
    s3_url_style: Literal["vhost", "path"] = Field(
        "vhost", description="'vhost' (AWS) or 'path' (MinIO and most S3-compatible stores)."
    )
    writer_batch_size: int = Field(5000, description="Classified calls per warehouse commit, max.")
    writer_batch_seconds: float = Field(
        2.0,
        description="Shortest time between the starts of two warehouse commits: a call waits "
        "this long at most, or until the commit running when it came ends.",
    )
    writer_threads: int = Field(
        1,
        ge=1,
        description="DuckDB threads of the worker's warehouse writer. Its commits are small and "
        "gain little from more; each extra thread takes a core from the event loop "
        "(wallboards, consuming) while a commit runs.",
    )
    facts_every_s: float = Field(
        60.0,
        gt=0,
        description="Under sustained load (calls already waiting for the next warehouse "
        "commit) a commit writes the calls and defers their facts (table fact_backlog); the "
        "facts are recomputed at least this often then, and in every commit otherwise.",
    )
    compact_every_s: float = Field(
        900.0,
        description="Warehouse maintenance period (compaction, snapshot expiry); one worker "
        "at a time does it, holding a lease in the catalog for twice this.",
    )
    compact_small_every_s: float = Field(
        30.0,
        gt=0,
        description="Between maintenance rounds, the lease holder's writer merges the small "
        "files its commits leave (under compact_small_file_bytes) and rewrites files most of "
        "whose rows were replaced, this often, between two commits; without it, commits "
        "slow down with every file until the next round.",
    )
    compact_small_file_bytes: int = Field(
        2 * 1024 * 1024,
        gt=0,
        description="Files under this size are merged by the light rounds "
        "(compact_small_every_s); larger ones are left to the maintenance rounds.",
    )
    snapshot_retention_s: float = Field(
        7 * 24 * 3600.0,
        description="Snapshots older than this are expired, and files compaction replaced are "
        "deleted this long after (keep a day or more: queries that began before read them).",
    )
    sql_batch_rows: int = Field(
        10_000,
        gt=0,
        description="`callstream sql --format csv|json` fetches and writes its result this many "
        "rows at a time, so a result of any size streams out in bounded memory.",
    )

    # --- ingest ---
    max_body_bytes: int = Field(5 * 1024 * 1024, description="Largest accepted HTTP body.")
    rate_limit_per_minute: int = Field(600, description="Requests per minute per ingest token.")
    ingest_max_in_flight: int = Field(
        64,
        ge=1,
        description="Event requests one worker reads, checks and sends to Kafka at once; one "
        "more is answered 503 with Retry-After at once. Each holds its body (up to "
        "CALLSTREAM_MAX_BODY_BYTES) and more while it is parsed: without a bound, many "
        "large bodies at once could take the worker's memory.",
    )

    # --- NHS England's files (`callstream nhs load`) ---
    nhs_max_csv_mb: int = Field(
        2048,
        gt=0,
        description="Largest CSV `nhs load` reads, as a zip declares it or as read (a whole "
        "national month is about 400 MB by its row count): a zip bomb stops here.",
    )

    reference_max_mb: int = Field(
        64,
        gt=0,
        description="Largest file `reference load` reads (an epraccur extract is about 4 MB, "
        "list sizes under 1 MB); a file is also refused unread past its first lines when "
        "they are not a reference file's.",
    )

    # --- alerts (streams/core/alerts.py, docs/operations.md) ---
    alert_rules_file: Path | None = Field(
        None, description="Alert rules YAML; unset: the packaged defaults (core/rules/alerts.yaml)."
    )
    alert_urls: SecretStr | None = Field(
        None,
        description="Where alerts go: apprise URLs separated by spaces or commas (Teams, "
        "Slack, mailto://, json:// webhooks; a comma inside a URL is written %2C); unset: "
        "alerts are only recorded in the warehouse.",
    )
    alert_every_s: float = Field(15.0, gt=0, description="How often the worker checks the rules.")

    # --- dashboards ---
    dashboards_refresh_s: float = Field(
        300.0, ge=0.5, description="`dashboards serve` re-render period."
    )
    dashboards_host: str = Field(
        "127.0.0.1",
        description="Address `dashboards serve` listens on (0.0.0.0 in a container).",
    )
    dashboards_max_clients: int = Field(
        64,
        ge=1,
        description="Connections `dashboards serve` answers at once, a thread each; one more "
        "is answered 503 at once (try again in a few seconds). Clients that send a byte at a "
        "time could otherwise hold a thread each without end.",
    )

    @field_validator("*")
    @classmethod
    def _durations_in_reach(cls, value: Any, info: ValidationInfo) -> Any:
        """Every ``*_s`` setting at most ``MAX_SECONDS``: a larger one (1e300) is no period
        anyone means, and it overflows the timedelta it becomes."""
        name = info.field_name or ""
        if name.endswith("_s") and isinstance(value, float) and value > MAX_SECONDS:
            raise ValueError(f"at most {MAX_SECONDS:,.0f} seconds (100 years)")
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _named_dir(cls, value: Any) -> Any:
        """An empty CALLSTREAM_DATA_DIR= would be the current folder, where the development
        key and the warehouse would then be written without a word."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty: unset it for ./data, or name a folder")
        return value

    @field_validator("cdr_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """A zone name the tz database knows (Europe/London, UTC), checked here so a typo
        is named as this setting, not met in the middle of reading a CDR file."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known time zone (e.g. Europe/London or UTC)") from None
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        """``host[:port][,host[:port]…]`` (Kafka's port 9092 when none is given), checked
        here: a typo (``kafka://…``, port 99999) otherwise costs a ten-second wait for a
        broker that cannot exist. Empty means unset."""
        if value is None or not value.strip():
            return None
        servers = [server.strip() for server in value.split(",")]
        for server in servers:
            host, colon, port = server.rpartition(":") if not server.endswith("]") else ("", "", "")
            if not colon:
                host, port = server, "9092"
            if not re.fullmatch(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]", host) or not (
                port.isascii() and port.isdigit() and 1 <= int(port) <= 65535
            ):
                raise ValueError(
                    "expected host:port (e.g. localhost:9092), several separated by commas"
                )
        return ",".join(servers)

    @property
    def event_bounds(self) -> EventBounds:
        """The event times the first hop accepts (``models.events.set_event_bounds``)."""
        from models.events import EventBounds

        return EventBounds(self.event_earliest, timedelta(seconds=self.event_max_future_s))

    @property
    def kafka_value_max_bytes(self) -> int:
        """The largest key and value one message may take: ``kafka_message_max_bytes``
        less room for a record's framing and headers (under 100 bytes in Kafka's format)."""
        return self.kafka_message_max_bytes - 1024

    @property
    def call_span(self) -> CallSpan:
        """How far apart a call's events may be (``streams.core.assemble.CallSpan``)."""
        from streams.core.assemble import CallSpan, state_budget

        return CallSpan(
            timedelta(seconds=self.call_max_span_s),
            timedelta(seconds=max(self.call_retention_s, self.callback_retention_s)),
            self.call_max_events,
            state_budget(self.kafka_message_max_bytes),
        )

    # --- staffing (docs/staffing.md) ---
    staffing_weeks: int = Field(
        8, ge=1, description="Weeks of the same weekday the staffing model averages demand over."
    )
    staffing_target: float = Field(
        0.8, gt=0, lt=1, description="Service target: share of calls answered within the time."
    )
    staffing_within_s: int = Field(
        120,
        gt=0,
        le=3600,  # streams.core.rules.LONGEST_WITHIN_S (a test keeps them equal)
        description="Service target: seconds within which calls should be answered (at most "
        "an hour).",
    )
    staffing_shrinkage: float = Field(
        0.3, ge=0, lt=1, description="Share of rota time off the phones (breaks, training, leave)."
    )

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"


class SettingsError(ValueError):
    """A ``CALLSTREAM_*`` variable has a value callstream cannot use; the message names the
    variable and what it needs, in one line (never the value: it may be a key)."""


def settings_error(error: ValidationError) -> SettingsError:
    """One line naming each variable that is wrong, as the operator set it."""
    from streams.core.errors import problems

    named = [
        f"{PREFIX}{(problem.field or '').upper()}: {problem.message}" for problem in problems(error)
    ]
    return SettingsError("; ".join(named) + " (the README's Settings table lists every setting)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(exc) from None
