"""The one place EventHub reads its configuration from the environment.

Every other module receives a `Settings` object; nothing else reads
`os.environ`. Secrets that are not configured are generated once into files
beside the working directory so that a restart keeps tokens and QR codes valid.
"""

from __future__ import annotations

import logging
import re
import secrets
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger("eventhub.settings")

SECRET_FILE = Path(".eventhub-secret")
TICKET_KEY_FILE = Path(".eventhub-ticket-key.pem")
TICKET_OLD_KEYS_FILE = Path(".eventhub-ticket-old-keys.pem")
MIN_SECRET_KEY_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10
# Words the placeholders of docs, compose files and tutorials use; never in a random key.
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "placeholder", "not-a-secret")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)\s*$")
_PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(Exception):
    """A configuration value is unusable; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EVENTHUB_", env_file=".env", extra="ignore", validate_default=True
    )

    # production (the default) refuses a missing, placeholder or short secret key.
    env: Literal["production", "development"] = "production"
    # Bearer token required to read GET /metrics when set.
    metrics_token: str = ""
    database_url: str = "sqlite+aiosqlite:///./eventhub.db"
    secret_key: str = ""
    ticket_signing_key: str = ""
    # PEM public keys of retired signing keys whose tickets must still verify.
    ticket_verify_keys: str = ""
    # Set when the signing key was read from (or generated into) TICKET_KEY_FILE.
    ticket_key_file: Path | None = None
    access_token_ttl: int = Field(900, ge=10)
    refresh_token_ttl: int = Field(1_209_600, ge=60)
    hold_seconds: int = Field(600, ge=1)
    payment_provider: Literal["offline", "stripe"] = "offline"
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    # Seconds per call to Stripe; with its 2 retries a reservation waits about 30 s at most.
    stripe_timeout: float = Field(10.0, gt=0, le=60)
    max_query_cost: int = Field(1000, ge=1)
    max_query_depth: int = Field(10, ge=1)
    max_query_aliases: int = Field(30, ge=1)
    max_query_tokens: int = Field(2000, ge=50)
    # The query gate (schema/limits.py): refused before validation, whatever the document.
    max_query_length: int = Field(65_536, ge=256)  # code points of the query text
    max_query_fields: int = Field(300, ge=10)  # field selections after fragment expansion
    max_query_directives: int = Field(50, ge=1)  # directives after fragment expansion
    max_query_repeats: int = Field(16, ge=2)  # one response name's selections in one set
    rate_limit: str = "600/minute"
    upload_dir: Path = Path("./uploads")
    max_upload_bytes: int = Field(5_242_880, ge=1)
    # Bounded resources per request and per client (web/body_limit.py, web/http_protocol.py,
    # web/socket_guard.py, cli.py's serve): what one stranger can make a worker hold.
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_ws_message_bytes: int = Field(262_144, ge=1024)
    http_header_timeout: float = Field(10.0, gt=0)
    http_body_timeout: float = Field(30.0, gt=0)
    http_keep_alive_timeout: int = Field(5, ge=1)
    max_connections: int = Field(2048, ge=1)
    max_sockets_per_address: int = Field(50, ge=1)
    max_subscriptions_per_socket: int = Field(20, ge=1)
    anonymous_subscription_seconds: float = Field(3600.0, gt=0)
    max_tickets_per_tier: int = Field(10, ge=1)
    # PENDING (unpaid) orders one account may have at once, across all events.
    max_pending_orders: int = Field(3, ge=1)
    sweep_interval_seconds: float = Field(2.0, gt=0)
    # The outbox (services/outbox_worker.py): how often an idle worker looks for due
    # deliveries, how many it sends at once, and each webhook attempt's time limit.
    outbox_poll_seconds: float = Field(0.5, gt=0, le=60)
    outbox_concurrency: int = Field(16, ge=1, le=256)
    webhook_timeout: float = Field(10.0, gt=0, le=60)
    # 1: webhook endpoints may use http:// and loopback/private addresses (dev, tests).
    webhooks_allow_private: bool = False
    # Outgoing e-mail (services/email_channel.py): SMTP when a URL is set, else .eml files.
    smtp_url: str = ""
    mail_dir: Path = Path("./mail")
    mail_from: str = "EventHub <no-reply@localhost>"
    smtp_timeout: float = Field(10.0, gt=0, le=60)
    # Seconds before an event's startsAt when its doors open: offline scans dated
    # earlier are refused (REFUSED), never applied.
    doors_open_before: int = Field(14_400, ge=0)
    live_fanout_share: float = Field(0.25, gt=0, le=1)
    db_pool_size: int = Field(10, ge=1)
    # Outage bounds: a request waits at most this long for PostgreSQL, then answers 503.
    db_connect_timeout: float = Field(3.0, gt=0)
    db_command_timeout: float = Field(15.0, gt=0)
    db_pool_timeout: float = Field(30.0, gt=0)
    # Argon2 cost: the defaults are argon2-cffi's RFC 9106 low-memory profile.
    password_hash_time_cost: int = Field(3, ge=1)
    password_hash_memory_kib: int = Field(65536, ge=8)
    password_hash_concurrency: int = Field(2, ge=1)
    log_level: str = "INFO"
    # GraphQL over HTTP for browsers and standard clients (see docs/clients.md).
    cors_origins: str = ""
    max_batch: int = Field(10, ge=1, le=100)
    persisted_query_store_size: int = Field(1000, ge=1)
    # Public-read response cache (web/response_cache.py): anonymous reads of the catalogue,
    # dropped on every change signal; this bounds what no signal announces. 0 turns it off.
    public_cache_seconds: float = Field(5.0, ge=0, le=300)
    public_cache_entries: int = Field(256, ge=1)
    trusted_documents_only: bool = False
    redis_url: str = ""
    # Redis socket and connect timeout (s): a Redis that stalls costs a request at most this.
    redis_timeout: float = Field(0.05, gt=0, le=5)
    redis_key_prefix: str = "eventhub"
    # Failed logins before backoff: one account from one address, one address, one account.
    login_pair_failures: int = Field(5, ge=1)
    login_address_failures: int = Field(20, ge=1)
    login_account_failures: int = Field(20, ge=1)
    login_lockout_seconds: int = Field(900, ge=1)  # the longest backoff
    # prometheus-client's own variable: set by `eventhub serve` for multi-worker metrics.
    prometheus_multiproc_dir: str | None = Field(None, validation_alias="PROMETHEUS_MULTIPROC_DIR")

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("ticket_signing_key")
    @classmethod
    def _ed25519_private_pem(cls, value: str) -> str:
        if not value:
            return value  # generated into a file on first run
        try:
            key = serialization.load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError("must be an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("must be an Ed25519 private key (PEM)")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)} (got {value!r})")
        return level

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (part.strip() for part in value.split(",") if part.strip()):
            if origin != "*" and not re.match(r"^https?://[^/\s]+/?$", origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_format(cls, value: str) -> str:
        if not _RATE.match(value):
            raise ValueError("must look like 600/minute (per second, minute or hour)")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_format(cls, value: str) -> str:
        if value and not re.match(r"^smtps?://[^/]*[^/@:]", value):
            raise ValueError("must look like smtp://[user:pass@]host[:587] or smtps://host[:465]")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from_format(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError("must be an address, e.g. EventHub <no-reply@example.com>")
        return value

    @model_validator(mode="after")
    def _stripe_needs_keys(self) -> Settings:
        if self.payment_provider == "stripe":
            if not self.stripe_secret_key:
                raise ValueError(
                    "EVENTHUB_STRIPE_SECRET_KEY is required when the provider is stripe"
                )
            if not self.stripe_webhook_secret:
                raise ValueError(
                    "EVENTHUB_STRIPE_WEBHOOK_SECRET is required when the provider is stripe"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cors_origin_list(self) -> list[str]:
        return [part.strip().rstrip("/") for part in self.cors_origins.split(",") if part.strip()]

    @property
    def rate_limit_per_second(self) -> tuple[int, int]:
        """(requests, period in seconds) of EVENTHUB_RATE_LIMIT."""
        match = _RATE.match(self.rate_limit)
        assert match is not None
        return int(match.group(1)), _PERIOD_SECONDS[match.group(2)]

    def require_signing_secret(self) -> None:
        """Stop start-up on a missing, placeholder or short EVENTHUB_SECRET_KEY in production.

        Anyone who knows the key can sign in as anyone, admins included, so a
        server never runs with one that can be guessed. Development only warns.
        """
        problem = secret_key_problem(self.secret_key)
        if problem is None:
            return
        if self.env == "production":
            raise SettingsError(
                f"EVENTHUB_SECRET_KEY: {problem}; set it to {MIN_SECRET_KEY_LENGTH}+ random "
                "characters (python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                "or EVENTHUB_ENV=development to generate one into ./.eventhub-secret"
            )
        logger.warning("EVENTHUB_SECRET_KEY: %s (accepted: EVENTHUB_ENV=development)", problem)

    def with_generated_secrets(self) -> Settings:
        """Fill missing secrets from (or into) their files, warning once when generating.

        The access-token secret is generated only in development: in production
        every host must share the one the operator sets.
        """
        updates: dict[str, str | Path] = {}
        if not self.secret_key and self.env == "development":
            updates["secret_key"] = _read_or_create(SECRET_FILE, lambda: secrets.token_urlsafe(48))
        if not self.ticket_signing_key:
            pem = _read_or_create(TICKET_KEY_FILE, _new_ed25519_pem)
            try:
                self._ed25519_private_pem(pem)
            except ValueError as error:
                message = f"{TICKET_KEY_FILE} (EVENTHUB_TICKET_SIGNING_KEY): {error}"
                raise SettingsError(message) from None
            updates["ticket_signing_key"] = pem
            updates["ticket_key_file"] = TICKET_KEY_FILE
        if not self.ticket_verify_keys and TICKET_OLD_KEYS_FILE.exists():
            updates["ticket_verify_keys"] = TICKET_OLD_KEYS_FILE.read_text()
        return self.model_copy(update=updates) if updates else self


def secret_key_problem(key: str) -> str | None:
    """Why a secret key is unfit to sign access tokens, or None when it looks random enough."""
    if not key:
        return "missing"
    lowered = key.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return "a placeholder, not a secret"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"too short (at least {MIN_SECRET_KEY_LENGTH} characters)"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return "too repetitive to be random"
    return None


def _new_ed25519_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _read_or_create(path: Path, make: object) -> str:
    if path.exists():
        return path.read_text().strip()
    assert callable(make)
    value: str = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    logger.warning("generated a new secret into %s; set it in the environment for production", path)
    return value


def describe_error(error: ValidationError) -> str:
    """One line naming the variable, for a start-up that must stop."""
    first = error.errors()[0]
    loc = first.get("loc") or ()
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"EVENTHUB_{str(loc[0]).upper()}: {message}" if loc else message


def load_settings(start_up: bool = False) -> Settings:
    """Read and validate settings, raising SettingsError with one clear line.

    `start_up` (a server starting) also refuses a weak EVENTHUB_SECRET_KEY in
    production, before any secret file is generated.
    """
    try:
        settings = Settings()
    except ValidationError as error:
        raise SettingsError(describe_error(error)) from None
    if start_up and settings.env == "production":
        settings.require_signing_secret()
    settings = settings.with_generated_secrets()
    if start_up:
        settings.require_signing_secret()  # development: a warning for a weak key
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of a starting server (create_app under uvicorn)."""
    return load_settings(start_up=True)
