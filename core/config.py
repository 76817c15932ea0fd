"""One settings object for every process (API, UI, worker, CLI).

Values come from the environment (and `.env`); secrets that are not given are generated on first use into
`<data_dir>/secrets.json` with mode 0600, so a fresh machine needs no configuration and no fixed default
secret exists anywhere.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; concurrent first starts are rarer there
    fcntl = None  # type: ignore[assignment]

PLACEHOLDER_SECRETS = {"changeme", "changethis", "secret", "password", ""}

Plan = Literal["starter", "professional", "business", "enterprise"]

# Requests per minute per tenant by plan (the seed's limits).
PLAN_RATE_LIMITS: dict[str, int] = {
    "starter": 100,
    "professional": 500,
    "business": 2000,
    "enterprise": 10000,
}

APP_DB_ROLE = "clientforge_app"

SecretName = Literal["jwt_secret", "field_encryption_key", "api_key_pepper", "app_db_password"]
GENERATED_SECRETS: tuple[SecretName, ...] = ("jwt_secret", "field_encryption_key", "api_key_pepper", "app_db_password")
# Secrets every host must share, hence must come from the environment in production.
PRODUCTION_SECRETS = ("jwt_secret", "field_encryption_key", "api_key_pepper")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = Field("development", alias="CLIENTFORGE_ENV")
    data_dir: Path = Field(Path(".clientforge"), alias="CLIENTFORGE_DATA_DIR")

    # Owner connection (migrations, provisioning). Unset: the embedded PostgreSQL in the data dir.
    database_url: str | None = Field(None, alias="DATABASE_URL")
    # Runtime connection as the non-owner role; derived from database_url when unset.
    app_database_url: str | None = Field(None, alias="APP_DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    db_pool_size: int = Field(10, alias="CLIENTFORGE_DB_POOL_SIZE")
    api_threads: int = Field(8, alias="CLIENTFORGE_API_THREADS")

    jwt_secret: SecretStr | None = Field(None, alias="JWT_SECRET")
    field_encryption_key: SecretStr | None = Field(None, alias="FIELD_ENCRYPTION_KEY")
    # Keys the HMAC of stored API keys; its own secret, so rotating JWT_SECRET does not invalidate every key.
    api_key_pepper: SecretStr | None = Field(None, alias="API_KEY_PEPPER")
    jwt_issuer: str = "clientforge-api"
    jwt_audience: str = "clientforge-web"
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    lockout_attempts: int = 5
    lockout_minutes: int = 15

    api_host: str = Field("127.0.0.1", alias="CLIENTFORGE_API_HOST")
    api_port: int = Field(8000, alias="CLIENTFORGE_API_PORT")
    ui_port: int = Field(8501, alias="CLIENTFORGE_UI_PORT")
    # NoDecode: a plain comma-separated value reaches `_split_csv` instead of failing JSON decoding.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:8501"], alias="CORS_ORIGINS"
    )
    max_body_bytes: int = Field(10 * 1024 * 1024, alias="CLIENTFORGE_MAX_BODY_BYTES")
    # Uploaded import files (CSV, XLSX): the imports routes take bodies up to this size instead.
    import_max_bytes: int = Field(50 * 1024 * 1024, alias="CLIENTFORGE_IMPORT_MAX_BYTES")
    rate_limit_per_ip: str = Field("1200/minute", alias="CLIENTFORGE_RATE_LIMIT_PER_IP")
    rate_limit_login: str = Field("5/15minutes", alias="CLIENTFORGE_RATE_LIMIT_LOGIN")
    rate_limits_enabled: bool = Field(True, alias="CLIENTFORGE_RATE_LIMITS")

    worker_concurrency: int = Field(2, alias="CLIENTFORGE_WORKER_CONCURRENCY")
    worker_heartbeat_seconds: float = Field(5.0, alias="CLIENTFORGE_WORKER_HEARTBEAT")
    worker_stalled_seconds: float = Field(30.0, alias="CLIENTFORGE_WORKER_STALLED_AFTER")
    # Modules outside core/ whose job handlers and periodic tasks the worker loads (comma separated).
    job_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "etl.tasks",
            "ai.forecasting.tasks",
            "ai.scoring.tasks",
            "ai.nlp.tasks",
            "ai.nlp.sentiment_tasks",
            "ai.insights.action_tasks",
            "ai.insights.enrichment_tasks",
            "ai.insights.churn_tasks",
            "ai.insights.anomaly_tasks",
        ],
        alias="CLIENTFORGE_JOB_MODULES",
    )

    # The warehouse: a periodic load of every tenant, and one soon after a change (debounced: changes of the
    # next `etl_debounce_seconds` ride along). Incremental loads re-read `etl_overlap_seconds` before the
    # watermark, for rows of transactions that committed after a load had passed their timestamps.
    etl_interval_seconds: int = Field(300, alias="CLIENTFORGE_ETL_INTERVAL", ge=10)
    etl_debounce_seconds: int = Field(20, alias="CLIENTFORGE_ETL_DEBOUNCE", ge=0, le=50)
    etl_overlap_seconds: int = Field(900, alias="CLIENTFORGE_ETL_OVERLAP", ge=0)
    # Lead scores follow changes: the leads touched since the last pass are rescored by one job per tenant and
    # window (0: a job per batch of dispatched events, so a change shows in its lead's score within seconds).
    scoring_debounce_seconds: int = Field(0, alias="CLIENTFORGE_SCORING_DEBOUNCE", ge=0, le=60)
    # Embeddings (semantic search) follow changes the same way: a pass over what changed since the last one.
    embedding_debounce_seconds: int = Field(0, alias="CLIENTFORGE_EMBEDDING_DEBOUNCE", ge=0, le=60)
    etl_run_retention_days: int = Field(30, alias="CLIENTFORGE_ETL_RUN_RETENTION_DAYS", ge=1)

    # Outgoing mail (scheduled reports). Unset host: nothing is sent and schedules record why.
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, alias="SMTP_PORT")
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    smtp_starttls: bool = Field(True, alias="SMTP_STARTTLS")
    smtp_from: str = Field("ClientForge <reports@localhost>", alias="SMTP_FROM")

    # Albedo's Claude engine: used only when ANTHROPIC_API_KEY is set (else the offline engine answers).
    # ANTHROPIC_BASE_URL points it elsewhere (a proxy, or the tests' local fake of the Messages API).
    anthropic_api_key: SecretStr | None = Field(None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, alias="ANTHROPIC_BASE_URL")
    albedo_claude_model: str = Field("claude-sonnet-4-6", alias="ALBEDO_CLAUDE_MODEL")
    albedo_max_tokens: int = Field(1024, alias="ALBEDO_MAX_TOKENS", ge=64)
    albedo_timeout_seconds: float = Field(30.0, alias="ALBEDO_TIMEOUT_SECONDS", gt=0)
    # Model calls per question (each tool round is one): bounds the cost and latency of a runaway plan.
    albedo_max_tool_rounds: int = Field(5, alias="ALBEDO_MAX_TOOL_ROUNDS", ge=1)
    # Per tenant: tokens (input + output) a day and Claude requests a minute; beyond either, the offline engine.
    albedo_tenant_daily_tokens: int = Field(200_000, alias="ALBEDO_TENANT_DAILY_TOKENS", ge=0)
    albedo_requests_per_minute: int = Field(30, alias="ALBEDO_REQUESTS_PER_MINUTE", ge=0)

    log_level: str = Field("INFO", alias="CLIENTFORGE_LOG_LEVEL")

    # The first admin `clientforge up` creates on an empty database (its password is generated, shown once).
    first_admin_email: str = Field("admin@example.com", alias="CLIENTFORGE_ADMIN_EMAIL")

    @field_validator("cors_origins", "job_modules", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("jwt_secret", "field_encryption_key", "api_key_pepper")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("placeholder secret refused: set a random value or leave it unset")
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("secret too short: use at least 32 characters")
        return value

    @model_validator(mode="after")
    def _shared_secrets_in_production(self) -> Settings:
        """In production several hosts serve the same users: a secret generated into one host's data dir would
        sign tokens, encrypt fields and hash API keys that the other hosts reject. Refuse to start instead."""
        if self.env == "production":
            missing = [name.upper() for name in PRODUCTION_SECRETS if getattr(self, name) is None]
            if missing:
                raise ValueError(
                    f"CLIENTFORGE_ENV=production requires {', '.join(missing)} in the environment, the same value on"
                    " every host (at least 32 random characters, e.g. `python -c 'import secrets;"
                    " print(secrets.token_urlsafe(48))'`)"
                )
        return self

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    def secret(self, name: SecretName) -> str:
        """A secret from the environment, else from the data dir's secrets file (created on first use)."""
        configured = getattr(self, name, None)
        if isinstance(configured, SecretStr):
            return configured.get_secret_value()
        cache = self.__dict__.setdefault("_secrets_cache", {})
        if name not in cache:
            cache.update(_data_dir_secrets(self.data_path))
        return cache[name]


def _data_dir_secrets(data_dir: Path) -> dict[str, str]:
    """The generated secrets, creating the file (or adding a secret a newer version introduced) on first use.

    Processes starting together agree on one file: writers take an exclusive lock, write a temporary file with
    mode 0600 from the first byte and rename it into place; secrets already stored are never replaced.
    """
    path = data_dir / "secrets.json"
    stored = _read_secrets(path)
    if all(k in stored for k in GENERATED_SECRETS):
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(data_dir / "secrets.lock"):
        stored = _read_secrets(path)
        if all(k in stored for k in GENERATED_SECRETS):
            return stored
        for key in GENERATED_SECRETS:
            stored.setdefault(key, secrets.token_urlsafe(48))
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, path)
    return stored


def _read_secrets(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]


def reset_settings() -> None:
    """Forget cached settings (tests and the supervisor change the environment)."""
    get_settings.cache_clear()
