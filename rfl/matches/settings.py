"""How matching proposes candidates and where its work runs (part of the settings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Executor(StrEnum):
    # The process that saved a record drains the outbox after answering: no other service needed.
    PROCESS = "process"
    # The outbox is relayed to Celery (Redis broker); workers on any number of machines propose.
    CELERY = "celery"


@dataclass(frozen=True)
class MatchingSettings:
    # Candidates below this probability are not stored: few enough for officers, but low, because a
    # missed match leaves a family without news while a weak candidate costs a glance.
    floor: float = 0.05
    # Blocked candidates scored per record, those sharing the most blocking keys first.
    max_candidates: int = 200
    # A blocking key shared by more records than this (a common name alone) finds no candidates.
    max_key_records: int = 2000
    executor: Executor = Executor.PROCESS
    broker_url: str = "redis://127.0.0.1:6379/0"
    # A relayed message no worker completed within this time is relayed again by the sweep.
    relay_again_after: timedelta = timedelta(minutes=5)
    # Messages a worker takes per transaction when it drains the outbox.
    drain_batch: int = 50
