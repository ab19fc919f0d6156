"""Run test workers in real processes, released together by a barrier (no sleeps as synchronisation).

Workers are module-level functions taking their arguments and then the start barrier; they must
wait on the barrier once they are ready (keys loaded, application built), so that the parts under
test overlap instead of the processes' start-up.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from typing import Any

SPAWN = multiprocessing.get_context("spawn")  # no fork: a forked child would share the parent's state
WAIT_SECONDS = 120  # only a hung worker ever waits this long

Job = tuple[Callable[..., Any], tuple[Any, ...]]


def _worker(index: int, job: Callable[..., Any], args: tuple[Any, ...], start: Barrier, results: Any) -> None:
    try:
        results.put((index, True, job(*args, start)))
    except BaseException as error:  # reported to the test, which fails naming it
        results.put((index, False, repr(error)))


def run_at_once(jobs: list[Job]) -> list[Any]:
    """Run each (function, args) in its own process, all released together; their results in order."""
    start = SPAWN.Barrier(len(jobs))
    results = SPAWN.Queue()
    processes = [
        SPAWN.Process(target=_worker, args=(index, job, args, start, results))
        for index, (job, args) in enumerate(jobs)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=WAIT_SECONDS) for _ in processes)
    for process in processes:
        process.join(WAIT_SECONDS)
        assert process.exitcode == 0
    errors = [detail for _, ok, detail in outcomes if not ok]
    assert not errors, errors
    return [detail for _, _, detail in outcomes]
