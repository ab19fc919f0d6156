"""The outbox: a session knows what it enqueued, and a message is marked relayed once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from rfl.db import db
from rfl.outbox import services as outbox
from rfl.outbox.models import OutboxMessage
from tests.conftest import FakeClock

TOPIC = "test.topic"


def test_a_session_knows_the_messages_it_enqueued_and_only_those(app: Flask) -> None:
    with app.app_context():
        with db.transaction() as session:
            outbox.enqueue(session, TOPIC, "thing", uuid.uuid4())  # another session's
        with db.transaction() as session:
            subject = uuid.uuid4()
            outbox.enqueue(session, TOPIC, "thing", subject)
            outbox.enqueue(session, TOPIC, "thing", subject)  # saved twice: two messages
            mine = outbox.enqueued(session)
            stored = set(
                session.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.object_id == subject))
            )

    assert len(mine) == 2
    assert set(mine) == stored


def test_a_message_is_marked_relayed_once_and_a_gone_one_not_at_all(app: Flask, clock: FakeClock) -> None:
    with app.app_context():
        with db.transaction() as session:
            for _ in range(3):
                outbox.enqueue(session, TOPIC, "thing", uuid.uuid4())
            fresh, swept, gone = outbox.enqueued(session)
        with db.transaction() as session:
            outbox.mark_relayed(session, [swept], now=clock())  # a sweep came first
            session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id == gone))  # already done
        clock.advance(timedelta(seconds=5))
        with db.transaction() as session:
            marked = outbox.mark_relayed(session, [fresh, swept, gone], now=clock())
            relayed_at = dict(session.execute(sa.select(OutboxMessage.id, OutboxMessage.relayed_at)).all())

    assert marked == [(fresh, TOPIC)]
    assert relayed_at[fresh] == clock()
    assert relayed_at[swept] == clock() - timedelta(seconds=5)


def test_a_message_that_failed_its_attempts_is_not_relayed_again(app: Flask, clock: FakeClock) -> None:
    with app.app_context():
        with db.transaction() as session:
            for _ in range(2):
                outbox.enqueue(session, TOPIC, "thing", uuid.uuid4())
            failing, lost = outbox.enqueued(session)
            outbox.mark_relayed(session, [failing, lost], now=clock())
            session.get_one(OutboxMessage, failing).attempts = 5
            session.get_one(OutboxMessage, lost).attempts = 4
        clock.advance(timedelta(hours=1))
        with db.transaction() as session:
            again = outbox.to_relay(
                session, TOPIC, now=clock(), stale_after=timedelta(minutes=5), limit=10, max_attempts=5
            )

    assert [message.id for message in again] == [lost]
