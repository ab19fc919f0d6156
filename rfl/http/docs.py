"""The browsable API docs: Swagger UI served from the installed package, under a strict CSP."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Flask, Response, send_from_directory

from rfl.http.auth import public

SWAGGER_UI_STATIC = "/api/docs/static/"
DOCS_PAGE_ENDPOINT = "api-docs.openapi_swagger_ui"
_STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# Exactly what the docs page needs: its scripts and stylesheet from this origin (no inline script, see
# templates/swagger_ui.html), the stylesheet's data: images, and fetching the spec (and "try it out"
# requests) from this origin.
DOCS_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def init_api_docs(app: Flask) -> None:
    _mark_api_docs_public(app)
    _serve_swagger_ui_assets(app)


def _mark_api_docs_public(app: Flask) -> None:
    """flask-smorest's spec and docs views are public (api.md); state it like every other route."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith("api-docs."):
            app.view_functions[endpoint] = public(_plain_view(view))


def _plain_view(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper


def _serve_swagger_ui_assets(app: Flask) -> None:
    """Serve Swagger UI's files from the installed package: the docs page works without internet."""

    @public
    def swagger_ui_asset(filename: str) -> Response:
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    @public
    def swagger_ui_init() -> Response:
        return send_from_directory(_STATIC_DIR, "swagger-init.js", mimetype="text/javascript")

    app.add_url_rule(f"{SWAGGER_UI_STATIC}<path:filename>", "swagger_ui_asset", swagger_ui_asset)
    app.add_url_rule("/api/docs/init.js", "swagger_ui_init", swagger_ui_init)
