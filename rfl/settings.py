"""Settings read once from ``RFL_*`` environment variables into a frozen object.

Development mode (the default) makes a first run work with nothing configured: it creates the instance
folder, a random secret key and a random local key file there. Production mode never invents secrets: it
refuses to start unless each one is given explicitly.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from rfl.accounts.limits import Limit, LoginThrottle, SearchLimits
from rfl.accounts.passwords import Argon2Parameters
from rfl.crypto.planning import IndexPlanning
from rfl.errors import ConfigurationError
from rfl.matches.settings import Executor, MatchingSettings
from rfl.retention.policy import RetentionPolicy, parse_periods

MIN_SECRET_KEY_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TESTING = "testing"


@dataclass(frozen=True)
class Settings:
    env: Environment
    instance_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    key_file: Path
    audit_signing_key_file: Path
    token_ttl: timedelta = timedelta(hours=8)
    max_content_length: int = 1024 * 1024
    log_level: str = "INFO"
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    search_limits: SearchLimits = field(default_factory=SearchLimits)
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    # Distinct terms each society's blind indexes are expected to hold: new index-key versions are
    # truncated so that at these sizes every value stands for at least two terms.
    index_planning: IndexPlanning = field(default_factory=IndexPlanning)
    password_hashing: Argon2Parameters = field(default_factory=Argon2Parameters)

    # Reverse proxies in front of the app whose X-Forwarded-For is trusted (login throttling is per
    # client address, so behind a proxy it must see the real one).
    trusted_proxies: int = 0
    # The origin line of signed audit checkpoints: names this log, so it must not change.
    checkpoint_origin: str = "rfl/audit-log"
    # Entries one `GET /api/v1/audit/verify` verifies at most, so a request stays far within a worker's
    # timeout (about 3 s per 100,000 entries on a small machine).
    audit_verify_step: int = 100_000
    # How long a request waits for a database lock (SQLite's write lock, PostgreSQL's row and advisory
    # locks) before it answers 503 with Retry-After.
    db_lock_timeout: timedelta = timedelta(seconds=5)
    # Strict-Transport-Security max-age for deployments served over TLS; 0 sends no HSTS header.
    hsts_max_age: int = 0
    # Reports withhold counts below this (and whatever would give them back); durations are shown only
    # for groups of at least this many.
    report_threshold: int = 5
    # The installation's retention periods (``RFL_RETENTION_DAYS`` over the built-in defaults); each
    # society may set its own over these.
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    # Persons one transaction of `rfl retention run` erases.
    retention_batch: int = 200
    # Uploaded import files larger than this answer 413 (the rest of the API keeps max_content_length).
    import_max_bytes: int = 20 * 1024 * 1024
    # Records an import creates per committed transaction (a kill loses at most one batch's work).
    import_batch: int = 200
    # The domain of exported record ids (PFIF person_record_id ``<domain>/<type>.<record id>``).
    exchange_domain: str = "rfl.invalid"

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (``os.environ`` by default)."""
        env_vars = os.environ if environ is None else environ
        env = _parse_environment(env_vars.get("RFL_ENV", Environment.DEVELOPMENT.value))
        instance_dir = Path(env_vars.get("RFL_INSTANCE_DIR") or Path.cwd() / "instance").resolve()
        if env is Environment.PRODUCTION:
            return _production_settings(env_vars, instance_dir)
        return _development_settings(env, env_vars, instance_dir)


def _parse_environment(raw: str) -> Environment:
    try:
        return Environment(raw)
    except ValueError:
        choices = ", ".join(e.value for e in Environment)
        raise ConfigurationError(f"RFL_ENV must be one of: {choices}") from None


# Whole-number settings: (variable, option, smallest allowed value).
_WHOLE_NUMBER_OPTIONS = (
    ("RFL_TRUSTED_PROXIES", "trusted_proxies", 0),
    ("RFL_AUDIT_VERIFY_STEP", "audit_verify_step", 1),
    ("RFL_MAX_CONTENT_LENGTH", "max_content_length", 1),
    ("RFL_HSTS_MAX_AGE_SECONDS", "hsts_max_age", 0),
    # 1 would withhold nothing: no count lies between 0 and 1.
    ("RFL_REPORT_THRESHOLD", "report_threshold", 2),
    ("RFL_RETENTION_BATCH", "retention_batch", 1),
    ("RFL_IMPORT_MAX_BYTES", "import_max_bytes", 1),
    ("RFL_IMPORT_BATCH", "import_batch", 1),
)


def _common_options(env_vars: Mapping[str, str]) -> dict[str, object]:
    options: dict[str, object] = {"log_level": env_vars.get("RFL_LOG_LEVEL", "INFO").upper()}
    for variable, option, minimum in _WHOLE_NUMBER_OPTIONS:
        if variable in env_vars:
            options[option] = _int_setting(env_vars, variable, minimum=minimum)
    if env_vars.get("RFL_AUDIT_ORIGIN"):
        options["checkpoint_origin"] = env_vars["RFL_AUDIT_ORIGIN"]
    if "RFL_TOKEN_TTL_MINUTES" in env_vars:
        options["token_ttl"] = timedelta(minutes=_int_setting(env_vars, "RFL_TOKEN_TTL_MINUTES", minimum=1))
    if "RFL_DB_LOCK_TIMEOUT_SECONDS" in env_vars:
        options["db_lock_timeout"] = timedelta(
            seconds=_int_setting(env_vars, "RFL_DB_LOCK_TIMEOUT_SECONDS", minimum=1)
        )
    if "RFL_RETENTION_DAYS" in env_vars:
        try:
            options["retention"] = RetentionPolicy(parse_periods(env_vars["RFL_RETENTION_DAYS"]))
        except ValueError as error:
            raise ConfigurationError(f"RFL_RETENTION_DAYS: {error}") from None
    if env_vars.get("RFL_EXCHANGE_DOMAIN"):
        options["exchange_domain"] = _exchange_domain(env_vars["RFL_EXCHANGE_DOMAIN"])
    options["matching"] = _matching_settings(env_vars)
    options["search_limits"] = _search_limits(env_vars)
    options["index_planning"] = _index_planning(env_vars)
    return options


def _index_planning(env_vars: Mapping[str, str]) -> IndexPlanning:
    changes = {
        field_name: _int_setting(env_vars, variable, minimum=IndexPlanning.MIN_TERMS)
        for variable, field_name in IndexPlanning.VARIABLES.items()
        if variable in env_vars
    }
    return replace(IndexPlanning(), **changes)


def _exchange_domain(raw: str) -> str:
    domain = raw.strip()
    if "/" in domain or any(character.isspace() for character in domain):
        raise ConfigurationError("RFL_EXCHANGE_DOMAIN must be a domain name, e.g. rfl.redcross.example")
    return domain


def _search_limits(env_vars: Mapping[str, str]) -> SearchLimits:
    defaults = SearchLimits()

    def limit(prefix: str, default: Limit) -> Limit:
        hits, window = default.max_hits, default.window
        if prefix in env_vars:
            hits = _int_setting(env_vars, prefix, minimum=1)
        if f"{prefix}_WINDOW_MINUTES" in env_vars:
            window = timedelta(minutes=_int_setting(env_vars, f"{prefix}_WINDOW_MINUTES", minimum=1))
        return Limit(hits, window)

    return SearchLimits(
        per_user=limit("RFL_SEARCH_LIMIT_PER_USER", defaults.per_user),
        per_request=limit("RFL_SEARCH_LIMIT_PER_REQUEST", defaults.per_request),
    )


def _matching_settings(env_vars: Mapping[str, str]) -> MatchingSettings:
    defaults = MatchingSettings()
    changes: dict[str, object] = {}
    if "RFL_MATCH_FLOOR" in env_vars:
        changes["floor"] = _probability_setting(env_vars, "RFL_MATCH_FLOOR")
    if "RFL_MATCH_MAX_CANDIDATES" in env_vars:
        changes["max_candidates"] = _int_setting(env_vars, "RFL_MATCH_MAX_CANDIDATES", minimum=1)
    if "RFL_MATCH_MAX_KEY_RECORDS" in env_vars:
        changes["max_key_records"] = _int_setting(env_vars, "RFL_MATCH_MAX_KEY_RECORDS", minimum=1)
    if "RFL_MATCHING_EXECUTOR" in env_vars:
        try:
            changes["executor"] = Executor(env_vars["RFL_MATCHING_EXECUTOR"])
        except ValueError:
            choices = ", ".join(e.value for e in Executor)
            raise ConfigurationError(f"RFL_MATCHING_EXECUTOR must be one of: {choices}") from None
    if env_vars.get("RFL_CELERY_BROKER_URL"):
        changes["broker_url"] = env_vars["RFL_CELERY_BROKER_URL"]
    return replace(defaults, **changes)  # type: ignore[arg-type]


def _probability_setting(env_vars: Mapping[str, str], name: str) -> float:
    try:
        value = float(env_vars[name])
    except ValueError:
        raise ConfigurationError(f"{name} must be a number") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"{name} must be between 0 and 1")
    return value


def _int_setting(env_vars: Mapping[str, str], name: str, *, minimum: int) -> int:
    try:
        value = int(env_vars[name])
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return value


def _production_settings(env_vars: Mapping[str, str], instance_dir: Path) -> Settings:
    required = ("RFL_DATABASE_URL", "RFL_SECRET_KEY", "RFL_KEY_FILE", "RFL_AUDIT_SIGNING_KEY_FILE")
    missing = [name for name in required if not env_vars.get(name)]
    if missing:
        raise ConfigurationError(f"production mode requires {', '.join(missing)}")
    secret_key = _checked_secret_key(env_vars["RFL_SECRET_KEY"])
    _refuse_sqlite_unless_allowed(env_vars)
    key_file = Path(env_vars["RFL_KEY_FILE"])
    _check_private_file(key_file, "RFL_KEY_FILE")
    signing_key_file = Path(env_vars["RFL_AUDIT_SIGNING_KEY_FILE"])
    _check_private_file(signing_key_file, "RFL_AUDIT_SIGNING_KEY_FILE")
    if signing_key_file.resolve() == key_file.resolve():
        raise ConfigurationError("RFL_AUDIT_SIGNING_KEY_FILE must be kept apart from RFL_KEY_FILE")
    return Settings(
        env=Environment.PRODUCTION,
        instance_dir=instance_dir,
        database_url=env_vars["RFL_DATABASE_URL"],
        secret_key=secret_key,
        key_file=key_file,
        audit_signing_key_file=signing_key_file,
        **_common_options(env_vars),  # type: ignore[arg-type]
    )


def _development_settings(env: Environment, env_vars: Mapping[str, str], instance_dir: Path) -> Settings:
    database_url = env_vars.get("RFL_DATABASE_URL") or f"sqlite:///{instance_dir / 'rfl.sqlite3'}"
    key_file = Path(env_vars.get("RFL_KEY_FILE") or instance_dir / "keys.json")
    signing_key_file = Path(
        env_vars.get("RFL_AUDIT_SIGNING_KEY_FILE") or instance_dir / "audit-signing-key.json"
    )
    # An explicitly given secret must be strong in every mode; a missing one is generated (long).
    secret_key = _checked_secret_key(env_vars["RFL_SECRET_KEY"]) if env_vars.get("RFL_SECRET_KEY") else ""
    return Settings(
        env=env,
        instance_dir=instance_dir,
        database_url=database_url,
        secret_key=secret_key,
        key_file=key_file,
        audit_signing_key_file=signing_key_file,
        **_common_options(env_vars),  # type: ignore[arg-type]
    )


def _checked_secret_key(secret_key: str) -> str:
    if len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(f"RFL_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters")
    return secret_key


def _refuse_sqlite_unless_allowed(env_vars: Mapping[str, str]) -> None:
    """SQLite is the embedded default for one machine; production means PostgreSQL unless said otherwise."""
    try:
        backend = make_url(env_vars["RFL_DATABASE_URL"]).get_backend_name()
    except ArgumentError:
        raise ConfigurationError("RFL_DATABASE_URL is not a database URL") from None
    if backend != "sqlite":
        return
    if not _flag_setting(env_vars, "RFL_ALLOW_SQLITE_IN_PRODUCTION"):
        raise ConfigurationError(
            "production mode refuses an SQLite RFL_DATABASE_URL; use PostgreSQL, "
            "or set RFL_ALLOW_SQLITE_IN_PRODUCTION=1 to accept a single-machine SQLite deployment"
        )


def _flag_setting(env_vars: Mapping[str, str], name: str) -> bool:
    raw = env_vars.get(name, "0").strip().lower()
    if raw in {"1", "true", "yes"}:
        return True
    if raw in {"0", "false", "no", ""}:
        return False
    raise ConfigurationError(f"{name} must be 1 or 0")


def _check_private_file(path: Path, name: str) -> None:
    if not path.is_file():
        raise ConfigurationError(f"{name} does not name an existing file")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(f"{name} must not be readable by group or others (chmod 600)")


def write_private_file(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600 from the start, so the secret is never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def ensure_development_secret(settings: Settings) -> Settings:
    """Give a development instance a persistent random secret key, created on first run."""
    if settings.secret_key:
        return settings
    secret_file = settings.instance_dir / "secret_key"
    if not secret_file.exists():
        write_private_file(secret_file, secrets.token_urlsafe(48).encode())
    return settings.with_overrides(secret_key=secret_file.read_text().strip())
