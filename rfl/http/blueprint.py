"""The application's Blueprint: flask-smorest's, with query strings checked as strictly as bodies."""

from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser


class _StrictParser(FlaskParser):
    """Unknown query parameters are an error (422), as unknown body fields are: a mistyped filter
    (``?stauts=closed``) must not answer an unfiltered list as if it were filtered. ``None`` lets the
    schema say (every schema is a ``StrictSchema``); headers and cookies stay open, since clients and
    proxies add their own."""

    DEFAULT_UNKNOWN_BY_LOCATION = {  # noqa: RUF012 (webargs' class-level setting)
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # flask-smorest ships no types
    ARGUMENTS_PARSER = _StrictParser()
