"""Every route states who may call it; only api.md's public routes are open."""

from __future__ import annotations

from flask import Flask

from rfl.accounts.models import Role
from rfl.http.auth import access_rule_of, require_roles

# api.md, Conventions: the only routes reachable without a token.
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/static/<path:filename>"),
    ("GET", "/api/docs/init.js"),
    ("POST", "/api/v1/auth/token"),
}


def routes_breaking_the_rules(app: Flask) -> list[str]:
    """Routes without an access rule, public routes not in the list, and listed routes not public."""
    problems = []
    for rule in app.url_map.iter_rules():
        access = access_rule_of(app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            route = (method, rule.rule)
            if access is None:
                problems.append(f"{method} {rule.rule}: no access rule")
            elif access.public != (route in PUBLIC_ROUTES):
                problems.append(f"{method} {rule.rule}: public={access.public}")
            elif not access.public and not access.roles:
                problems.append(f"{method} {rule.rule}: no roles")
    return problems


def test_every_registered_route_has_the_right_access_rule(app: Flask) -> None:
    assert routes_breaking_the_rules(app) == []


def test_every_public_route_exists(app: Flask) -> None:
    registered = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods or ()}
    assert registered >= PUBLIC_ROUTES


def test_a_route_without_a_rule_is_caught(app: Flask) -> None:
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "open")

    assert routes_breaking_the_rules(app) == ["GET /api/v1/forgotten: no access rule"]


def test_a_protected_route_in_the_public_list_is_caught(app: Flask) -> None:
    app.view_functions["health.healthz"] = require_roles(Role.ADMIN)(app.view_functions["health.healthz"])

    assert routes_breaking_the_rules(app) == ["GET /healthz: public=False"]
