"""Serving: gunicorn's own log lines are JSON like the application's, a taken port fails early, and the
server names no version of itself."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_answer(url: str, process: subprocess.Popen[bytes]) -> http.client.HTTPResponse:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "rfl serve exited early"
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(url, timeout=5)  # noqa: S310 (loopback)
            return response
        except OSError:
            time.sleep(0.2)
    raise AssertionError("rfl serve did not answer within 60 s")


def test_rfl_serve_names_no_server_version_and_sends_the_security_headers(tmp_path: Path) -> None:
    port = _free_loopback_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RFL_")} | {
        "RFL_ENV": "development",
        "RFL_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    command = [sys.executable, "-c", "from rfl.cli import main; main()", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "1"], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with _wait_for_answer(f"http://127.0.0.1:{port}/healthz", process) as health:
            headers = health.headers
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert headers["Server"] == "gunicorn"  # the software may be named, never its version
    assert headers["X-Content-Type-Options"] == "nosniff"
