"""One place that turns every error into an ``application/problem+json`` answer (RFC 9457).

Details never carry personal data: domain errors are written that way, and unexpected exceptions answer
a bare 500 and are logged by type and request id only (their messages may quote values).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from privacy import DecryptionError, SubjectErasedError
from rfl.db import is_unavailable
from rfl.errors import (
    AuthenticationRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    PreconditionRequired,
    RflError,
    TooManyAttempts,
    ValidationFailed,
)
from rfl.extensions import app_services

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"

# Domain error -> (status, problem type slug, title)
_DOMAIN_ERRORS: dict[type[RflError], tuple[int, str, str]] = {
    ValidationFailed: (422, "validation-failed", "Validation failed"),
    AuthenticationRequired: (401, "authentication-required", "Authentication required"),
    PermissionDenied: (403, "permission-denied", "Permission denied"),
    NotFound: (404, "not-found", "Not found"),
    Conflict: (409, "conflict", "Conflict"),
    PreconditionFailed: (412, "precondition-failed", "Precondition failed"),
    PreconditionRequired: (428, "precondition-required", "Precondition required"),
    TooManyAttempts: (429, "too-many-attempts", "Too many attempts"),
}


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    slug: str | None = None,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:rfl:problem:{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = dict(errors)
    body.update(extra or {})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_domain_error(error: RflError) -> Response:
    for error_type in type(error).__mro__:
        if error_type in _DOMAIN_ERRORS:
            status, slug, title = _DOMAIN_ERRORS[error_type]
            break
    else:
        return handle_unexpected_error(error)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    errors = error.errors if isinstance(error, ValidationFailed) else None
    if isinstance(error, AuthenticationRequired):
        headers["WWW-Authenticate"] = 'Bearer realm="rfl"'
    if isinstance(error, PermissionDenied) and getattr(error, "reasons", None):
        extra["reasons"] = list(error.reasons)  # type: ignore[attr-defined]
    if isinstance(error, Conflict) and error.current is not None:
        extra["current"] = error.current
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.retry_after_seconds)
        extra["retry_after"] = error.retry_after_seconds
    return problem(status, title, error.detail, slug=slug, errors=errors, headers=headers, extra=extra)


def handle_http_exception(error: HTTPException) -> Response:
    """Werkzeug's and webargs' errors (404, 405, 413, 400, 422 from schema validation)."""
    status = error.code or 500
    if status >= 500:
        return handle_unexpected_error(error)
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages is not None:
        return problem(
            422,
            "Validation failed",
            "The request contains invalid fields.",
            slug="validation-failed",
            errors=_merge_locations(messages),
        )
    # Keep protocol headers such as Allow (405); the body is ours.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return problem(status, error.name, error.description or "", headers=headers)


def handle_unexpected_error(error: BaseException) -> Response:
    if isinstance(error, InternalServerError) and error.original_exception is not None:
        error = error.original_exception
    # The type only: exception messages (e.g. a database error) may quote personal data.
    log.error("unhandled_exception", extra={"exception_type": type(error).__qualname__})
    return problem(500, "Internal server error", "An unexpected error occurred; it has been logged.")


def handle_decryption_error(error: DecryptionError) -> Response:
    """A ciphertext that does not decrypt was moved, altered or shredded: refuse, never guess."""
    log.error("record_integrity_failure", extra={"endpoint": request.endpoint})
    return problem(
        500,
        "Record integrity failure",
        "Stored data failed its integrity check and was not returned; it has been logged.",
        slug="integrity-failure",
    )


def handle_subject_erased(error: SubjectErasedError) -> Response:
    """Something was to be written under the key of a person who was erased: nothing can be, ever."""
    return problem(
        409,
        "Person erased",
        "This person's data was erased; nothing more can be recorded of them.",
        slug="erased",
    )


def _merge_locations(messages: Mapping[str, Any]) -> dict[str, Any]:
    """webargs nests messages by location ({"json": {...}, "query": {...}}); clients want fields."""
    merged: dict[str, Any] = {}
    for location_messages in messages.values():
        if isinstance(location_messages, Mapping):
            merged.update(location_messages)
        else:
            merged.setdefault("_schema", []).extend(location_messages)
    return merged


def handle_stale_write(_error: StaleDataError) -> Response:
    """Two writers raced on one record and this one lost at its UPDATE (the version it read is gone)."""
    return handle_domain_error(PreconditionFailed("The record changed meanwhile; fetch it again and retry."))


def handle_integrity_error(_error: IntegrityError) -> Response:
    """A concurrent change took a unique value first; the message (which may quote values) is dropped."""
    return handle_domain_error(Conflict("The change conflicts with another one made meanwhile."))


def handle_database_unavailable(error: SQLAlchemyError) -> Response:
    """A database that is busy beyond the configured wait, or unreachable: 503, try again shortly.

    Any other database error is a bug and answers 500. Logged by type only: driver messages may
    quote the statement.
    """
    if not is_unavailable(error):
        return handle_unexpected_error(error)
    log.warning("database_unavailable", extra={"exception_type": type(error).__qualname__})
    wait = app_services().settings.db_lock_timeout.total_seconds()
    retry_after = max(1, math.ceil(wait))
    return problem(
        503,
        "Service unavailable",
        "The database is busy or unreachable; retry after the delay given in Retry-After.",
        slug="database-unavailable",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(RflError, handle_domain_error)
    app.register_error_handler(DecryptionError, handle_decryption_error)
    app.register_error_handler(SubjectErasedError, handle_subject_erased)
    app.register_error_handler(StaleDataError, handle_stale_write)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DBAPIError, handle_database_unavailable)
    app.register_error_handler(PoolTimeoutError, handle_database_unavailable)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected_error)
