"""Security headers on every answer (issue: HTTP hardening).

- ``X-Content-Type-Options: nosniff`` everywhere: a browser never guesses a type from content.
- ``Cache-Control: no-store`` on the API (``/api/v1``): answers carry personal data and tokens, which
  no browser or proxy cache may keep.
- A Content-Security-Policy: nothing at all may load from an API answer; the docs page gets exactly
  what Swagger UI needs.
- ``Strict-Transport-Security`` when the deployment says it is served over TLS (``hsts_max_age``).
"""

from __future__ import annotations

from flask import Flask, Response, request

from rfl.http.docs import DOCS_PAGE_CSP, DOCS_PAGE_ENDPOINT

API_PREFIX = "/api/v1/"
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def init_security_headers(app: Flask, *, hsts_max_age: int) -> None:
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Content-Security-Policy"] = (
            DOCS_PAGE_CSP if request.endpoint == DOCS_PAGE_ENDPOINT else API_CSP
        )
        if request.path.startswith(API_PREFIX):
            headers["Cache-Control"] = "no-store"
        if hsts_max_age > 0:
            headers["Strict-Transport-Security"] = f"max-age={hsts_max_age}"
        return response

    app.after_request(add_security_headers)
