"""The API description completed once for every operation: the error answers and headers the request
boundary gives (auth, 404, validation, preconditions, idempotency, an unavailable database), so no route
has to repeat them and none can forget them."""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin

# Component responses flask-smorest registers for every HTTP status, referenced by name.
RESPONSE_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "REQUEST_ENTITY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    428: "PRECONDITION_REQUIRED",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "description": "The ETag of the version you read (428 without it, 412 when it is stale; `*` is refused).",
    "schema": {"type": "string"},
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Repeat a create safely: the same key from the same user within 24 h returns the first "
    "result instead of creating a duplicate (1-255 printable ASCII characters).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
# Operations that answer 429 when their rate limit is reached.
RATE_LIMITED = {("post", "/api/v1/auth/token")}
# Creating operations a retry must not replay: a disclosure is decided anew each time (its first answer
# replayed would release again what a consent withdrawn meanwhile no longer covers).
DECIDED_ANEW = {("post", "/api/v1/matches/{match_id}/disclosures")}


class StandardResponses(BasePlugin):
    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            for status in sorted(expected_errors(method, path or "", operation)):
                _add_response(operation, status)
            for header in expected_headers(method, path or "", operation):
                operation.setdefault("parameters", []).append(header)


def expected_errors(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    statuses = {503}
    if operation.get("security"):
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    if method == "patch":
        statuses |= {412, 428}
    if _creates(method, operation):
        statuses.add(409)
    if (method, path) in RATE_LIMITED:
        statuses.add(429)
    return statuses


def expected_headers(method: str, path: str, operation: dict[str, Any]) -> list[dict[str, Any]]:
    if method == "patch":
        return [IF_MATCH]
    if _creates(method, operation) and operation.get("security") and (method, path) not in DECIDED_ANEW:
        return [IDEMPOTENCY_KEY]
    return []


def _creates(method: str, operation: dict[str, Any]) -> bool:
    return method == "post" and "201" in {str(status) for status in operation.get("responses", {})}


def _add_response(operation: dict[str, Any], status: int) -> None:
    responses = operation.setdefault("responses", {})
    if str(status) not in {str(existing) for existing in responses}:
        responses[str(status)] = RESPONSE_NAMES[status]
