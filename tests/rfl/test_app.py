"""The application serves its OpenAPI description and a browsable docs page without a token."""

from __future__ import annotations

import pytest
from flask import request
from flask.testing import FlaskClient

from rfl import create_app
from rfl.http.auth import public
from rfl.settings import Settings


def test_openapi_document_describes_the_api(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/auth/token", "/api/v1/me", "/api/v1/users", "/api/v1/users/{user_id}"} <= set(
        spec["paths"]
    )
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "bearerAuth" in str(spec["paths"]["/api/v1/me"]["get"]["security"])
    assert "security" not in spec["paths"]["/api/v1/auth/token"]["post"]


def test_docs_page_and_its_assets_are_served_locally(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    asset = client.get("/api/docs/static/swagger-ui-bundle.js")

    assert page.status_code == 200
    assert "/api/docs/static/swagger-ui-bundle.js" in page.get_data(as_text=True)
    assert asset.status_code == 200
    asset.close()


@pytest.mark.parametrize(("trusted_proxies", "seen"), [(0, "10.0.0.1"), (1, "203.0.113.50")])
def test_client_address_behind_trusted_proxies(settings: Settings, trusted_proxies: int, seen: str) -> None:
    # Login throttling counts failures per client address: behind a proxy it must be the real client's.
    app = create_app(settings.with_overrides(trusted_proxies=trusted_proxies))
    app.add_url_rule("/whoami", "whoami", public(lambda: request.remote_addr or ""))

    response = app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.50"}, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )

    assert response.get_data(as_text=True) == seen
