"""Celery: the outbox relayed to workers on any number of machines (Redis as the broker).

The broker only carries message ids; everything a proposal needs, and whether it is still to do, lives
in the database. A relay lost with the broker, or a worker killed mid-task, leaves the message in the
outbox, and the periodic sweep relays it again. Run workers with ``rfl match worker`` (add ``--beat``
on one of them for the sweep).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from celery import Celery
from flask import Flask

from rfl.db import db
from rfl.exchange.models import IMPORT_REQUESTED
from rfl.extensions import app_services
from rfl.matches.worker import process_message, rescore_chunk
from rfl.outbox import services as outbox
from rfl.records.canonical import MATCHED_FIELDS_CHANGED

SWEEP_EVERY = timedelta(minutes=1)
RELAY_BATCH = 500

celery_app = Celery("rfl")
celery_app.conf.update(
    task_acks_late=True,  # a task whose worker died is delivered again (the work is idempotent)
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    beat_schedule={
        "rfl-outbox-sweep": {"task": "rfl.matches.sweep", "schedule": SWEEP_EVERY.total_seconds()}
    },
)
_flask_app: Flask | None = None


def bind(app: Flask) -> Celery:
    """Configure Celery from the application's settings; tasks run inside ``app``'s context."""
    global _flask_app  # noqa: PLW0603 (Celery's tasks are module-level; they need the application)
    _flask_app = app
    celery_app.conf.broker_url = app_services(app).settings.matching.broker_url
    return celery_app


def _app() -> Flask:
    global _flask_app  # noqa: PLW0603
    if _flask_app is None:
        from rfl.app import create_app

        _flask_app = create_app()
    return _flask_app


@celery_app.task(name="rfl.matches.propose")  # type: ignore[untyped-decorator]
def propose_task(message_id: str) -> None:
    with _app().app_context():
        process_message(uuid.UUID(message_id))


@celery_app.task(name="rfl.matches.rescore")  # type: ignore[untyped-decorator]
def rescore_task(run_id: str, number: int) -> None:
    with _app().app_context():
        rescore_chunk(uuid.UUID(run_id), number)


def publish_chunks(run_id: uuid.UUID, numbers: list[int]) -> None:
    """Hand a run's chunks to the workers (a chunk done meanwhile is skipped when taken)."""
    celery_app.conf.broker_url = app_services().settings.matching.broker_url
    for number in numbers:
        rescore_task.apply_async(args=[str(run_id), number], **_publish_options())


@celery_app.task(name="rfl.exchange.import")  # type: ignore[untyped-decorator]
def import_task(message_id: str) -> None:
    from rfl.exchange.worker import process_import_message

    with _app().app_context():
        process_import_message(uuid.UUID(message_id))


@celery_app.task(name="rfl.matches.sweep")  # type: ignore[untyped-decorator]
def sweep_task() -> int:
    with _app().app_context():
        return relay()


def relay() -> int:
    """Hand waiting outbox messages to the workers: new ones, and those relayed so long ago that their
    task was lost. A message is marked relayed, and that committed, before its task is published: a
    worker may take it at once and must find it as committed. A broker that cannot be reached leaves
    the rest for the next relay, and the sweep hands the marked ones over again later."""
    settings = app_services().settings.matching
    celery_app.conf.broker_url = settings.broker_url
    relayed = 0
    for topic, task in ((IMPORT_REQUESTED, import_task), (MATCHED_FIELDS_CHANGED, propose_task)):
        with db.transaction() as session:
            messages = outbox.to_relay(
                session,
                topic,
                now=app_services().clock(),
                stale_after=settings.relay_again_after,
                limit=RELAY_BATCH,
            )
            for message in messages:
                message.relayed_at = app_services().clock()
            ids = [message.id for message in messages]
        for message_id in ids:
            task.apply_async(args=[str(message_id)], **_publish_options())
        relayed += len(ids)
    return relayed


def _publish_options() -> dict[str, Any]:
    # Fail fast when the broker is down: the message stays in the outbox for the sweep.
    return {"retry": False}
