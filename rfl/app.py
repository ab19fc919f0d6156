"""The application factory."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask, g
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from privacy import KeyCache
from rfl.accounts import blueprint as accounts_blueprint
from rfl.accounts.passwords import Passwords
from rfl.accounts.services import Authenticator
from rfl.accounts.throttle import Throttle
from rfl.audit import blueprint as audit_blueprint
from rfl.consent import blueprint as consent_blueprint
from rfl.db import db, utcnow
from rfl.disclosures import blueprint as disclosures_blueprint
from rfl.exchange import blueprint as exchange_blueprint
from rfl.extensions import AppServices
from rfl.health import blueprint as health_blueprint
from rfl.http.docs import SWAGGER_UI_STATIC, init_api_docs
from rfl.http.errors import register_error_handlers
from rfl.http.headers import init_security_headers
from rfl.http.json_body import init_json_bodies
from rfl.http.logging import init_request_logging
from rfl.http.openapi import StandardResponses
from rfl.http.schemas import ProblemSchema
from rfl.http.transactions import init_request_transactions
from rfl.instance import prepare_instance
from rfl.keys import ReloadingKeyProvider, load_signer
from rfl.logs import configure_logging
from rfl.matches import blueprint as matches_blueprint
from rfl.records import blueprint as records_blueprint
from rfl.reports import blueprint as reports_blueprint
from rfl.retention import blueprint as retention_blueprint
from rfl.settings import Environment, Settings

API_VERSION = "1.0.0"
API_DESCRIPTION = """Restoring Family Links case management API.

Every route but `/healthz`, the API description and `POST /api/v1/auth/token` needs
`Authorization: Bearer <token>`. Errors are `application/problem+json`. Lists return
`{items, next_cursor}` (keyset pagination: pass `cursor` for the next page). `PATCH` takes a JSON merge
patch (RFC 7396) and needs `If-Match`. Creating `POST`s accept `Idempotency-Key` and answer `201` with a
`Location` header. Records of another society answer 404 exactly as if they did not exist."""


class RflApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with the project's own error shape instead of its default handlers."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)


def create_app(
    config: Settings | Mapping[str, str] | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> Flask:
    """Build the application.

    ``config`` is a ``Settings`` object, or a mapping of ``RFL_*`` variables read instead of the
    environment, or None to read the environment. ``clock`` and ``sleep`` are injectable for tests.
    """
    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    settings = prepare_instance(settings)
    configure_logging(settings.log_level)

    app = Flask("rfl", instance_path=str(settings.instance_dir), static_folder=None)
    app.config.update(_flask_config(settings))
    db.init_app(app, settings.database_url, lock_timeout=settings.db_lock_timeout.total_seconds())
    _build_services(settings, clock, sleep).install(app)

    api = RflApi(
        app,
        spec_kwargs={
            "info": {"description": API_DESCRIPTION},
            "extra_plugins": [StandardResponses()],
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blueprint in (
        health_blueprint.blp,
        accounts_blueprint.blp,
        records_blueprint.blp,
        matches_blueprint.blp,
        consent_blueprint.blp,
        disclosures_blueprint.blp,
        retention_blueprint.blp,
        audit_blueprint.blp,
        reports_blueprint.blp,
        exchange_blueprint.blp,
    ):
        api.register_blueprint(blueprint)
    init_api_docs(app)

    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    # after_request hooks run in reverse order: the transaction ends first (it may turn the answer into
    # a 503), then the answer is logged, then every answer gets the security headers.
    init_security_headers(app, hsts_max_age=settings.hsts_max_age)
    init_request_logging(app)
    init_json_bodies(app)
    init_request_transactions(app)
    return app


def _flask_config(settings: Settings) -> dict[str, Any]:
    return {
        "SECRET_KEY": settings.secret_key,
        "MAX_CONTENT_LENGTH": settings.max_content_length,
        "TESTING": settings.env is Environment.TESTING,
        "API_TITLE": "rfl",
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_UI_STATIC,
    }


def _build_services(
    settings: Settings, clock: Callable[[], datetime], sleep: Callable[[float], None]
) -> AppServices:
    passwords = Passwords(settings.password_hashing)
    return AppServices(
        settings=settings,
        clock=clock,
        sleep=sleep,
        keys=ReloadingKeyProvider(settings.key_file),
        key_cache=KeyCache(),
        audit_signer=load_signer(settings.audit_signing_key_file),
        passwords=passwords,
        authenticator=Authenticator(
            passwords,
            settings.login_throttle,
            secret_key=settings.secret_key,
            token_ttl=settings.token_ttl,
            independent_transaction=db.transaction,
            delay_answer=_delay_answer,
        ),
        throttle=Throttle(secret_key=settings.secret_key),
    )


def _delay_answer(seconds: float) -> None:
    g.rfl_answer_delay = max(seconds, g.get("rfl_answer_delay", 0.0))
