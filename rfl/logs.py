"""Structured logging: one JSON object per line, each carrying the request id when there is one.

What is logged is chosen field by field (ids, endpoint, status, timing), never request bodies, query
strings, headers or exception messages, so personal data and tokens cannot reach the log by accident.
"""

from __future__ import annotations

import logging
import sys

from flask import g
from pythonjsonlogger.json import JsonFormatter


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current_request_id()
        return True


def _current_request_id() -> str | None:
    try:
        request_id: str | None = g.get("request_id")
        return request_id
    except RuntimeError:  # outside an application context (CLI, start-up)
        return None


def json_handler(stream: object = None) -> logging.Handler:
    """A handler writing one JSON object per line to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(
        JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger", "message": "event"},
            timestamp="time",
        )
    )
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(level: str, stream: object = None) -> None:
    """Send every ``rfl`` log record to ``stream`` (stderr by default) as JSON lines."""
    logger = logging.getLogger("rfl")
    logger.handlers = [json_handler(stream)]
    logger.setLevel(level)
    logger.propagate = False
