"""Request logging: one access line per request, and a request id on every line logged meanwhile.

What is logged is chosen field by field (ids, endpoint, status, timing), never request bodies, query
strings, headers or exception messages, so personal data and tokens cannot reach the log by accident.
"""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-ID"

access_log = logging.getLogger("rfl.access")


def init_request_logging(app: Flask) -> None:
    app.before_request(_start_request)
    app.after_request(_finish_request)


def _start_request() -> None:
    # Always our own id: it is written into the (unerasable) audit log, so no client text may be.
    g.request_id = uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    actor = g.get("actor")
    access_log.info(
        "request",
        extra={
            "method": request.method,
            # The rule, not the path: ids stay out of the access log too; the query string never enters it.
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            "user_id": str(actor.user_id) if actor else None,
        },
    )
    return response
