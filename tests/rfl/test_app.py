"""The application serves its OpenAPI description and a browsable docs page without a token."""

from __future__ import annotations

from flask.testing import FlaskClient


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
