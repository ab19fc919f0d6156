"""Security headers: no caching of API answers, no sniffing, a CSP everywhere, HSTS when configured."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from rfl import create_app
from rfl.accounts.models import Role
from rfl.db import db
from rfl.http.docs import DOCS_PAGE_CSP
from rfl.settings import Settings
from tests.conftest import Factories
from tests.rfl.records.conftest import TRACING_REQUEST


def test_every_api_answer_is_no_store_and_nosniff_whatever_its_status(
    client: FlaskClient, make: Factories
) -> None:
    headers = make.actor_headers(Role.CASEWORKER)
    created = client.post("/api/v1/tracing-requests", json=TRACING_REQUEST, headers=headers)
    answers = {
        "created": created,
        "read": client.get(f"/api/v1/tracing-requests/{created.json['id']}", headers=headers),
        "list": client.get("/api/v1/tracing-requests", headers=headers),
        "token": client.post("/api/v1/auth/token", json={"email": "a@example.org", "password": "x" * 12}),
        "unauthenticated": client.get("/api/v1/me"),
        "unknown": client.get("/api/v1/nothing-here"),
    }

    for name, response in answers.items():
        assert response.headers["Cache-Control"] == "no-store", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", (
            name
        )


def test_pages_without_personal_data_may_be_cached_but_are_never_sniffed(client: FlaskClient) -> None:
    for path in ("/healthz", "/api/openapi.json", "/api/docs/static/swagger-ui.css"):
        response = client.get(path)

        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers.get("Cache-Control") != "no-store", path
        response.close()


def test_the_docs_page_has_a_csp_that_allows_exactly_what_it_loads(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", html)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)

    assert page.headers["Content-Security-Policy"] == DOCS_PAGE_CSP
    assert "script-src 'self';" in DOCS_PAGE_CSP
    assert "unsafe-inline" not in DOCS_PAGE_CSP
    # Nothing inline to allow: every script is a file, and no element has an event-handler attribute.
    assert scripts
    assert all("src=" in attributes for attributes in scripts)
    assert not [name for name in re.findall(r"\s(\w+)=", html) if name.lower().startswith("on")]
    assert sources
    assert all(source.startswith("/") and not source.startswith("//") for source in sources)
    for source in sources:  # every file the page names is served here
        asset = client.get(source)
        assert asset.status_code == 200, source
        asset.close()
    init_script = client.get("/api/docs/init.js")
    assert "validatorUrl: null" in init_script.get_data(as_text=True)  # no badge from a public validator
    init_script.close()


def test_hsts_is_off_by_default_and_sent_when_configured(client: FlaskClient, settings: Settings) -> None:
    tls_app = create_app(settings.with_overrides(hsts_max_age=31_536_000))
    with_tls = tls_app.test_client()

    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    assert with_tls.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"
    assert with_tls.get("/api/v1/me").headers["Strict-Transport-Security"] == "max-age=31536000"
    db.engine_of(tls_app).dispose()
