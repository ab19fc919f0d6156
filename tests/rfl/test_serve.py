"""Serving: gunicorn's own log lines are JSON like the application's, and a taken port fails early."""

from __future__ import annotations

import io
import json
import logging
import socket

import pytest
from gunicorn.config import Config

from rfl.serve import JsonLinesLogger, PortInUse, check_port_free


def test_gunicorns_messages_are_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    logger = JsonLinesLogger(Config())

    logger.info("Booting worker with pid: %s", 1234)

    line = json.loads(stream.getvalue().strip())
    assert line["event"] == "Booting worker with pid: 1234"
    assert line["level"] == "INFO"
    assert line["logger"] == "gunicorn.error"
    assert logging.getLogger("gunicorn.error").propagate is False


def test_a_taken_port_is_reported_before_serving() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} is already in use"):
            check_port_free("127.0.0.1", port)


def test_a_free_port_passes() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_port_free("127.0.0.1", port)
