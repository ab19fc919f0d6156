"""First-run preparation of a development instance: folder, secrets, database."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from rfl import migrate
from rfl.keys import ensure_key_files
from rfl.settings import Environment, Settings, ensure_development_secret


def prepare_instance(settings: Settings) -> Settings:
    """In development mode create what a first run needs; other modes use what they are given."""
    if settings.env is not Environment.DEVELOPMENT:
        return settings
    settings.instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings = ensure_development_secret(settings)
    ensure_key_files(settings.key_file, settings.audit_signing_key_file, settings.checkpoint_origin)
    if _is_sqlite_file(settings.database_url):
        # The embedded default runs with one command, so its schema follows the code automatically.
        migrate.upgrade(settings.database_url)
    return settings


def _is_sqlite_file(database_url: str) -> bool:
    url = make_url(database_url)
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
