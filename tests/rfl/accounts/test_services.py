"""Account services: rehash on login, reprs without personal data, tokens."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Engine

from rfl import create_app
from rfl.accounts import services
from rfl.accounts.models import Role, User
from rfl.accounts.passwords import Argon2Parameters, Passwords
from rfl.db import db
from rfl.extensions import app_services
from rfl.settings import Settings
from tests.conftest import DEFAULT_PASSWORD, Factories, FakeClock


def test_login_rehashes_when_parameters_changed(app: Flask, make: Factories, clock: FakeClock) -> None:
    user = make.user(email="old@example.org")
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_cost_kib=16, parallelism=1))
    authenticator = services.Authenticator(
        stronger,
        app_services(app).settings.login_throttle,
        secret_key="k" * 40,
        token_ttl=timedelta(hours=1),
        independent_transaction=db.transaction,
        delay_answer=lambda seconds: None,
    )

    with app.app_context(), db.transaction() as session:
        authenticator.login(
            session,
            email="old@example.org",
            password=DEFAULT_PASSWORD,
            client_address="192.0.2.1",
            now=clock.now,
            audit=lambda entry: None,
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


def test_a_failed_login_is_slowed_only_after_its_transaction_ended(
    settings: Settings, engine: Engine, clock: FakeClock
) -> None:
    # On SQLite a transaction holds the database's write lock: sleeping inside it would stall everyone.
    transactions_open_while_sleeping: list[bool] = []

    def sleep(seconds: float) -> None:
        session = db.current_session()
        transactions_open_while_sleeping.append(session is not None and session.in_transaction())

    app = create_app(settings, clock=clock, sleep=sleep)
    with engine.connect() as connection:
        transaction = connection.begin()
        db.bind_to(app, connection)
        response = app.test_client().post(
            "/api/v1/auth/token", json={"email": "nobody@example.org", "password": "wrong password!"}
        )
        transaction.rollback()

    assert response.status_code == 401
    assert transactions_open_while_sleeping == [False]
