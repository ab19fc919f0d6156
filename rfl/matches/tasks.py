"""Celery: the outbox relayed to workers on any number of machines (Redis as the broker).

The broker only carries message ids; everything a proposal needs, and whether it is still to do, lives
in the database. A relay lost with the broker, or a worker killed mid-task, leaves the message in the
outbox, and the periodic sweep relays it again. Run workers with ``rfl match worker`` (add ``--beat``
on one of them for the sweep).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import Celery
from flask import Flask

from rfl.db import db
from rfl.exchange.models import IMPORT_REQUESTED
from rfl.exchange.worker import MESSAGE_TAKES as IMPORT_TAKES
from rfl.extensions import app_services
from rfl.matches.worker import MAX_ATTEMPTS, DrainReport, process_messages, rescore_chunk
from rfl.outbox import services as outbox
from rfl.records.canonical import MATCHED_FIELDS_CHANGED

SWEEP_EVERY = timedelta(minutes=1)
RELAY_BATCH = 500
# A chunk of a run that fails (an officer deciding one of its candidates meanwhile, a database that
# went away) is tried again this often, waiting longer each time: nothing else would take it again,
# and `rfl match run` follows the chunks until every one is done.
RESCORE_RETRIES = 5

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


@celery_app.task(name="rfl.matches.propose_batch")  # type: ignore[untyped-decorator]
def propose_task(message_ids: list[str]) -> None:
    with _app().app_context():
        process_messages([uuid.UUID(message_id) for message_id in message_ids], DrainReport())


@celery_app.task(  # type: ignore[untyped-decorator]
    name="rfl.matches.rescore",
    autoretry_for=(Exception,),
    max_retries=RESCORE_RETRIES,
    retry_backoff=True,
)
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
    task was lost (the sweep). A message is marked relayed, and that committed, before its task is
    published: a worker may take it at once and must find it as committed. A broker that cannot be
    reached leaves the rest for the next relay, and the sweep hands the marked ones over again later."""
    settings = app_services().settings.matching
    relayed = 0
    for topic, max_attempts in ((IMPORT_REQUESTED, IMPORT_TAKES), (MATCHED_FIELDS_CHANGED, MAX_ATTEMPTS)):
        with db.transaction() as session:
            messages = outbox.to_relay(
                session,
                topic,
                now=app_services().clock(),
                stale_after=settings.relay_again_after,
                limit=RELAY_BATCH,
                max_attempts=max_attempts,
            )
            for message in messages:
                message.relayed_at = app_services().clock()
            marked = [(message.id, message.topic) for message in messages]
        relayed += publish(marked)
    return relayed


def publish(marked: Sequence[tuple[uuid.UUID, str]]) -> int:
    """Publish the tasks of messages marked relayed: an import a task, proposals a batch of
    ``drain_batch`` messages a task (a worker proposes for a batch in one pass)."""
    settings = app_services().settings.matching
    celery_app.conf.broker_url = settings.broker_url
    imports = [str(message_id) for message_id, topic in marked if topic == IMPORT_REQUESTED]
    proposals = [str(message_id) for message_id, topic in marked if topic == MATCHED_FIELDS_CHANGED]
    for message_id in imports:
        import_task.apply_async(args=[message_id], **_publish_options())
    for start in range(0, len(proposals), settings.drain_batch):
        batch = proposals[start : start + settings.drain_batch]
        propose_task.apply_async(args=[batch], **_publish_options())
    return len(imports) + len(proposals)


def _publish_options() -> dict[str, Any]:
    # Fail fast when the broker is down: the message stays in the outbox for the sweep.
    return {"retry": False}
