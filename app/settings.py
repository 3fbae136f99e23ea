"""Service settings, read from ATTAIN_* environment variables."""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.quiet import parse as parse_quiet_hours

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


class Settings(BaseSettings):
    """Every knob of the service; the README lists them."""

    model_config = SettingsConfigDict(env_prefix="ATTAIN_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/attain.db"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    log_json: bool = False
    metrics_public: bool = False
    metrics_cache_seconds: float = 0.0
    max_body_bytes: int = 5 * 1024 * 1024
    max_values: int = 10_000
    # What an uploaded .xlsx may inflate to (the sum of its zip members' sizes), checked before inflating.
    max_xlsx_uncompressed_bytes: int = 20 * 1024 * 1024
    # Workbooks are parsed in child processes: how many at once, and how long / how much memory each may take.
    xlsx_parse_workers: int = 2
    xlsx_parse_seconds: float = 10.0
    xlsx_parse_memory_bytes: int = 512 * 1024 * 1024
    idempotency_ttl_hours: int = 24
    idempotency_lease_seconds: int = 60
    db_pool_size: int = 10
    db_timeout_seconds: float = 5.0
    db_statement_timeout_seconds: float = 5.0
    report_timeout_seconds: float = 120.0
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    limit_concurrency: int = 1000
    # Request heads: one line, and all of them (431 beyond).
    max_header_line_bytes: int = 16 * 1024
    max_header_bytes: int = 64 * 1024
    # Open connections per worker, in all and per direct client address (503 with Retry-After beyond; 0: none).
    max_connections: int = 1000
    max_connections_per_client: int = 64
    # Peers whose X-Forwarded-* headers are believed; the per-address cap leaves them to their own limits.
    trusted_proxies: str = "127.0.0.1,::1"
    key_rotation_grace_hours: float = 24.0
    # How long an authenticated key is trusted without a look-up: a revoked key stops working within this.
    key_cache_seconds: float = 1.0
    bootstrap_key_file: str | None = None
    seeds_dir: Path = SEEDS_DIR
    # Language of messages when a request's Accept-Language names neither zh nor en.
    default_lang: Literal["zh", "en"] = "zh"
    # Signs the leaders' page session cookies; unset, one is generated and kept in the database (all workers agree).
    session_secret: str | None = None
    session_hours: float = 8.0
    # The roll-up worker: how often it looks for other processes' writes, how long it lets this process's
    # writes gather before it runs, and (tests only) whether it is paused — reads still roll up what they need.
    rollup_interval_seconds: float = 0.5
    rollup_debounce_seconds: float = 0.1
    rollup_paused: bool = False

    # Reminders and 催办 (SPEC "Supervision"): how often the scheduler and the outbox sender run, the address
    # links in messages start with, and optional quiet hours in Asia/Shanghai ("22-08") that hold deliveries.
    remind_every_seconds: float = 600.0
    send_every_seconds: float = 30.0
    remind_enabled: bool = True
    public_url: str = "http://127.0.0.1:8000"
    quiet_hours: str | None = None

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, v: str | None) -> str | None:
        # A malformed window stops the server at start, not the sender every round.
        if v:
            parse_quiet_hours(v)
        return v or None

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        # Checked at start-up: a typo must stop `attain serve`, not fail every connection later.
        for item in (p.strip() for p in value.split(",")):
            if item and item != "*":
                ipaddress.ip_network(item, strict=False)  # ValueError names the culprit
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
