"""Every request body is checked once, before any view: JSON of a bounded shape, or refused.

A body must be declared JSON (``application/json``; a PATCH may also say ``application/merge-patch+json``)
or the answer is 415. It must then be UTF-8 JSON that Python can handle safely everywhere after it:
nesting no deeper than ``MAX_DEPTH``, integers of at most ``MAX_INTEGER_DIGITS`` digits, finite numbers,
and text without unpaired surrogate escapes (``"\\ud800"``), which no UTF-8 encoder (hashing,
encryption, the database) accepts. Anything else is a 400 saying what is wrong, never where a value
was, so no part of the body is echoed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

from flask import Flask, Response, current_app, request

from rfl.http.errors import problem

MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 64
JSON_MIMETYPE = "application/json"
MERGE_PATCH_MIMETYPE = "application/merge-patch+json"
MULTIPART_MIMETYPE = "multipart/form-data"
_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS"})
# A view that takes a file upload (multipart) instead of JSON, with its own size limit.
UPLOAD_LIMIT_ATTRIBUTE = "rfl_upload_limit"
V = TypeVar("V", bound=Callable[..., Any])


def accepts_upload(limit: Callable[[], int]) -> Callable[[V], V]:
    """Mark a view as taking ``multipart/form-data`` of at most ``limit()`` bytes (413 above it)
    instead of a JSON body; everything else about the request is unchanged."""

    def mark(view: V) -> V:
        setattr(view, UPLOAD_LIMIT_ATTRIBUTE, limit)
        return view

    return mark


class MalformedJson(ValueError):
    """The body is not JSON this API accepts; the message says why (never quoting the body)."""


def init_json_bodies(app: Flask) -> None:
    app.before_request(_check_request_body)


def _check_request_body() -> Response | None:
    if request.method in _METHODS_WITHOUT_BODY or request.url_rule is None:
        return None  # no body is read; unknown routes answer 404/405 as usual
    upload_limit = getattr(
        current_app.view_functions.get(request.endpoint or ""), UPLOAD_LIMIT_ATTRIBUTE, None
    )
    if upload_limit is not None:
        return _check_upload(upload_limit())
    return _check_json_body()


def _check_json_body() -> Response | None:
    body = request.get_data(cache=True)
    if not body:
        return None
    accepted = _accepted_mimetypes(request.method)
    if request.mimetype not in accepted:
        return _unsupported_media_type(accepted)
    try:
        parse_json(body)
    except MalformedJson as error:
        return problem(
            400, "Malformed JSON", f"The request body is not valid JSON: {error}", slug="malformed-json"
        )
    return None


def _check_upload(limit: int) -> Response | None:
    request.max_content_length = limit  # reading the form answers 413 above it
    if request.mimetype != MULTIPART_MIMETYPE:
        return _unsupported_media_type((MULTIPART_MIMETYPE,))
    return None


def _accepted_mimetypes(method: str) -> tuple[str, ...]:
    # Merge-patch routes have always taken plain application/json too; keep what clients already send.
    return (MERGE_PATCH_MIMETYPE, JSON_MIMETYPE) if method == "PATCH" else (JSON_MIMETYPE,)


def _unsupported_media_type(accepted: tuple[str, ...]) -> Response:
    headers = {"Accept-Patch": ", ".join(accepted)} if request.method == "PATCH" else {}
    return problem(
        415,
        "Unsupported media type",
        f"The request body must be sent as {' or '.join(accepted)}.",
        slug="unsupported-media-type",
        headers=headers,
    )


def parse_json(body: bytes) -> Any:
    """Parse ``body`` as JSON within this API's bounds, or raise ``MalformedJson`` saying why."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("it is not UTF-8 text.") from None
    try:
        value = json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_refuse_constant
        )
    except RecursionError:
        raise MalformedJson(f"it is nested more than {MAX_DEPTH} levels deep.") from None
    except json.JSONDecodeError as error:
        raise MalformedJson(f"{error.msg} (line {error.lineno}, column {error.colno}).") from None
    _check_shape(value)
    return value


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise MalformedJson(f"an integer has more than {MAX_INTEGER_DIGITS} digits.")
    return int(digits)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise MalformedJson("a number is too large.")
    return number


def _refuse_constant(name: str) -> NoReturn:
    raise MalformedJson(f"{name} is not a JSON value.")


def _check_shape(value: Any) -> None:
    for item, depth in _walk(value):
        if depth >= MAX_DEPTH and isinstance(item, (dict, list)):  # the outermost container is level 1
            raise MalformedJson(f"it is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, str) and not item.isascii() and _has_lone_surrogate(item):
            raise MalformedJson("a string contains an unpaired surrogate escape (\\ud800 to \\udfff).")


def _walk(value: Any) -> Iterator[tuple[Any, int]]:
    """Every value and object key with its nesting depth, without recursion (depth is untrusted)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((member, depth + 1) for member in item.values())
        elif isinstance(item, list):
            stack.extend((member, depth + 1) for member in item)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
