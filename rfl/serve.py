"""Serving the API with gunicorn: JSON-lines logs like the application's own, checked port first."""

from __future__ import annotations

import errno
import socket
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from rfl.logs import json_handler


class PortInUse(Exception):
    """The address to serve on is taken (another server runs there)."""


def check_port_free(host: str, port: int) -> None:
    """Fail before any work is done when ``host:port`` cannot be bound."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(f"{host}:{port} is already in use; choose another port") from None
            raise


class JsonLinesLogger(Logger):  # type: ignore[misc]
    """gunicorn's own messages (start, workers, signals) as JSON lines, like every other log line."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.handlers = [json_handler()]
        self.error_log.propagate = False


def run_gunicorn(create_app: Any, host: str, port: int, workers: int) -> None:
    """Serve ``create_app()`` with gunicorn (a production WSGI server) until interrupted."""

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)  # rfl logs each request itself, without query strings
            self.cfg.set("logger_class", JsonLinesLogger)

        def load(self) -> Flask:
            app: Flask = create_app()
            return app

    _Server().run()
