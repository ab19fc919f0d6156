"""Settings: production refuses to start without real secrets; development prepares a first run."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from rfl import create_app, migrate
from rfl.errors import ConfigurationError
from rfl.extensions import app_services
from rfl.settings import Environment, Settings

STRONG_SECRET = "s" * 48


def private_file(path: Path, mode: int = 0o600) -> Path:
    path.write_text("{}")
    path.chmod(mode)
    return path


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "RFL_ENV": "production",
        "RFL_DATABASE_URL": "postgresql+psycopg://rfl@db/rfl",
        "RFL_SECRET_KEY": STRONG_SECRET,
        "RFL_KEY_FILE": str(private_file(tmp_path / "keys.json")),
        "RFL_AUDIT_SIGNING_KEY_FILE": str(private_file(tmp_path / "signing.json")),
        "RFL_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


def test_production_with_every_secret_starts(tmp_path: Path) -> None:
    settings = Settings.from_env(production_env(tmp_path))

    assert settings.env is Environment.PRODUCTION
    assert settings.secret_key == STRONG_SECRET


@pytest.mark.parametrize(
    "missing", ["RFL_DATABASE_URL", "RFL_SECRET_KEY", "RFL_KEY_FILE", "RFL_AUDIT_SIGNING_KEY_FILE"]
)
def test_production_refuses_to_start_without_a_secret(tmp_path: Path, missing: str) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        Settings.from_env(production_env(tmp_path, **{missing: ""}))


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="RFL_SECRET_KEY"):
        Settings.from_env(production_env(tmp_path, RFL_SECRET_KEY="short"))


def test_production_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    readable = private_file(tmp_path / "open.json", 0o644)

    with pytest.raises(ConfigurationError, match="chmod 600"):
        Settings.from_env(production_env(tmp_path, RFL_KEY_FILE=str(readable)))


def test_production_refuses_the_signing_key_in_the_data_key_file(tmp_path: Path) -> None:
    env = production_env(tmp_path)

    with pytest.raises(ConfigurationError, match="apart"):
        Settings.from_env(env | {"RFL_AUDIT_SIGNING_KEY_FILE": env["RFL_KEY_FILE"]})


def test_production_does_not_invent_an_instance(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        create_app(production_env(tmp_path, RFL_SECRET_KEY=""))

    assert not (tmp_path / "instance").exists()


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="RFL_ENV"):
        Settings.from_env({"RFL_ENV": "staging"})


def test_bad_numbers_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="RFL_TOKEN_TTL_MINUTES"):
        Settings.from_env({"RFL_TOKEN_TTL_MINUTES": "soon"})


def test_the_audit_verify_step_is_read_and_checked() -> None:
    assert Settings.from_env({"RFL_AUDIT_VERIFY_STEP": "5000"}).audit_verify_step == 5000
    assert Settings.from_env({}).audit_verify_step == 100_000
    with pytest.raises(ConfigurationError, match="RFL_AUDIT_VERIFY_STEP"):
        Settings.from_env({"RFL_AUDIT_VERIFY_STEP": "0"})


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})

    with pytest.raises(AttributeError):
        settings.secret_key = "changed"  # type: ignore[misc]


def test_secret_key_is_not_in_the_repr(tmp_path: Path) -> None:
    assert STRONG_SECRET not in repr(Settings.from_env(production_env(tmp_path)))


def test_development_first_run_creates_instance_secret_and_database(tmp_path: Path) -> None:
    instance = tmp_path / "instance"

    app = create_app({"RFL_INSTANCE_DIR": str(instance)})

    settings: Settings = app_services(app).settings
    assert settings.env is Environment.DEVELOPMENT
    for secret_file in ("secret_key", "keys.json", "audit-signing-key.json", "rfl.sqlite3"):
        assert stat.S_IMODE(os.stat(instance / secret_file).st_mode) == 0o600, secret_file
    assert len(settings.secret_key) >= 32
    assert settings.database_url == f"sqlite:///{instance / 'rfl.sqlite3'}"
    assert migrate.current_revision(settings.database_url) == migrate.head_revision(settings.database_url)
    # A second start reuses the same secret rather than inventing a new one.
    again = create_app({"RFL_INSTANCE_DIR": str(instance)})
    assert app_services(again).settings.secret_key == settings.secret_key


def test_production_refuses_an_sqlite_database_unless_explicitly_allowed(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'rfl.sqlite3'}"

    with pytest.raises(ConfigurationError, match="RFL_ALLOW_SQLITE_IN_PRODUCTION"):
        Settings.from_env(production_env(tmp_path, RFL_DATABASE_URL=sqlite_url))
    allowed = Settings.from_env(
        production_env(tmp_path, RFL_DATABASE_URL=sqlite_url, RFL_ALLOW_SQLITE_IN_PRODUCTION="1")
    )
    with pytest.raises(ConfigurationError, match="RFL_ALLOW_SQLITE_IN_PRODUCTION must be 1 or 0"):
        Settings.from_env(
            production_env(tmp_path, RFL_DATABASE_URL=sqlite_url, RFL_ALLOW_SQLITE_IN_PRODUCTION="maybe")
        )
    with pytest.raises(ConfigurationError, match="not a database URL"):
        Settings.from_env(production_env(tmp_path, RFL_DATABASE_URL="not a url"))

    assert allowed.database_url == sqlite_url


@pytest.mark.parametrize("env", ["development", "testing"])
def test_an_explicit_secret_key_must_be_long_in_every_mode(tmp_path: Path, env: str) -> None:
    base = {"RFL_ENV": env, "RFL_INSTANCE_DIR": str(tmp_path / "instance")}

    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        Settings.from_env(base | {"RFL_SECRET_KEY": "s" * 31})
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        create_app(base | {"RFL_SECRET_KEY": "dev"})

    assert Settings.from_env(base | {"RFL_SECRET_KEY": "s" * 32}).secret_key == "s" * 32


def test_lock_wait_and_hsts_are_read_from_the_environment(tmp_path: Path) -> None:
    defaults = Settings.from_env(production_env(tmp_path))
    configured = Settings.from_env(
        production_env(tmp_path, RFL_DB_LOCK_TIMEOUT_SECONDS="2", RFL_HSTS_MAX_AGE_SECONDS="63072000")
    )

    assert defaults.db_lock_timeout == timedelta(seconds=5)
    assert defaults.hsts_max_age == 0
    assert configured.db_lock_timeout == timedelta(seconds=2)
    assert configured.hsts_max_age == 63072000
    for name, bad in (("RFL_DB_LOCK_TIMEOUT_SECONDS", "0"), ("RFL_HSTS_MAX_AGE_SECONDS", "-1")):
        with pytest.raises(ConfigurationError, match=name):
            Settings.from_env(production_env(tmp_path, **{name: bad}))


def test_the_report_threshold_is_read_from_the_environment_and_never_below_two() -> None:
    assert Settings.from_env({}).report_threshold == 5
    assert Settings.from_env({"RFL_REPORT_THRESHOLD": "10"}).report_threshold == 10
    for bad in ("1", "0", "five"):
        with pytest.raises(ConfigurationError, match="RFL_REPORT_THRESHOLD"):
            Settings.from_env({"RFL_REPORT_THRESHOLD": bad})


def test_the_exchange_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"RFL_IMPORT_MAX_BYTES": "5000", "RFL_IMPORT_BATCH": "50", "RFL_EXCHANGE_DOMAIN": "rfl.example.org"}
    )

    assert (settings.import_max_bytes, settings.import_batch, settings.exchange_domain) == (
        5000,
        50,
        "rfl.example.org",
    )
    for name, bad in (("RFL_IMPORT_BATCH", "0"), ("RFL_EXCHANGE_DOMAIN", "rfl.example.org/x")):
        with pytest.raises(ConfigurationError, match=name):
            Settings.from_env({name: bad})


def test_search_limits_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        production_env(
            tmp_path,
            RFL_SEARCH_LIMIT_PER_USER="30",
            RFL_SEARCH_LIMIT_PER_REQUEST_WINDOW_MINUTES="60",
        )
    )

    assert settings.search_limits.per_user.max_hits == 30
    assert settings.search_limits.per_user.window == timedelta(hours=1)  # the default window
    assert settings.search_limits.per_request.max_hits == 10
    assert settings.search_limits.per_request.window == timedelta(minutes=60)
    with pytest.raises(ConfigurationError, match="RFL_SEARCH_LIMIT_PER_USER must be at least 1"):
        Settings.from_env(production_env(tmp_path, RFL_SEARCH_LIMIT_PER_USER="0"))


def test_index_planning_is_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(production_env(tmp_path, RFL_INDEX_EXPECTED_NAME_TOKENS="5000"))

    assert settings.index_planning.expected_terms("name_token") == 5000
    assert settings.index_planning.bits("name_token") == 11  # 5,000 terms in 2,048 values
    assert settings.index_planning.expected_terms("match_block") == 1_000_000  # the default


@pytest.mark.parametrize("raw", ["3", "many", "-1"])
def test_an_index_planned_for_too_few_terms_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigurationError, match="RFL_INDEX_EXPECTED_MATCH_BLOCKS"):
        Settings.from_env(production_env(tmp_path, RFL_INDEX_EXPECTED_MATCH_BLOCKS=raw))
