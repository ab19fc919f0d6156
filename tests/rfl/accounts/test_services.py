"""Account services: rehash on login, reprs without personal data, tokens."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from rfl.accounts import services
from rfl.accounts.models import Role, User
from rfl.accounts.passwords import Argon2Parameters, Passwords
from rfl.db import db
from tests.conftest import DEFAULT_PASSWORD, Factories, FakeClock


def test_login_rehashes_when_parameters_changed(app: Flask, make: Factories, clock: FakeClock) -> None:
    user = make.user(email="old@example.org")
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_cost_kib=16, parallelism=1))
    authenticator = services.Authenticator(
        stronger,
        app.extensions["rfl.settings"].login_throttle,
        secret_key="k" * 40,
        token_ttl=timedelta(hours=1),
        record_even_if_failing=lambda work: None,
        sleep=lambda seconds: None,
    )

    with app.app_context(), db.transaction() as session:
        authenticator.login(
            session,
            email="old@example.org",
            password=DEFAULT_PASSWORD,
            client_address="192.0.2.1",
            now=clock.now,
        )

    new_hash = make.scalar(sa.select(User.password_hash).where(User.id == user.id))
    assert new_hash != user.password_hash
    assert new_hash is not None
    assert "t=2" in new_hash


def test_model_reprs_show_ids_only(make: Factories) -> None:
    user = make.user(Role.ADMIN, email="private.person@example.org")

    shown = repr(user) + repr(user.society)

    assert str(user.id) in shown
    assert "private.person" not in shown
    assert "Test User" not in shown
    assert "Test Society" not in shown
