"""Forged checkpoint rows (the application role can INSERT them) never stop the log nor get signed over.

Each forgery is inserted beside an honest log whose newest trusted checkpoint is at 300 entries; then the
log grows past 512, which signs a checkpoint resuming from the newest stored one. The service must skip
the forgery (with an alert), sign the true root, keep answering, and `rfl audit verify` must name the row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from privacy import (
    Checkpoint,
    CheckpointSigner,
    CompactRange,
    leaf_hash,
    sign_checkpoint,
    tree_root,
    verify_checkpoint,
)
from rfl.accounts.models import Role
from rfl.audit import checkpoints
from rfl.extensions import app_services
from tests.conftest import Factories
from tests.rfl.audit.conftest import (
    fill_log,
    forge_checkpoint,
    random_compact_range,
    stored_leaves,
    verify,
)
from tests.rfl.audit.conftest import (
    sign_checkpoint as sign_current,
)

ORIGIN = "rfl/test-audit-log"


def honest_log(app: Flask) -> str:
    """300 entries with a checkpoint signed at 300 (crossing 256); returns that checkpoint's note."""
    fill_log(app, 200)
    fill_log(app, 100)
    return sign_current(app)


def signed_note(app: Flask, size: int, root: bytes) -> str:
    """A note the service's own key signed (as every checkpoint the API hands out)."""
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), app_services(app).audit_signer)


def forge_bad_signature(app: Flask, tamper: Callable[..., None], genuine: str) -> int:
    compact = random_compact_range(500)
    impostor = CheckpointSigner.generate(app_services(app).audit_signer.name)
    note = sign_checkpoint(Checkpoint(ORIGIN, 500, compact.root()), impostor)
    forge_checkpoint(tamper, tree_size=500, note=note, root=compact.root(), compact=compact)
    return 500


def forge_signature_of_another_size(app: Flask, tamper: Callable[..., None], genuine: str) -> int:
    compact = random_compact_range(500)
    forge_checkpoint(tamper, tree_size=500, note=genuine, root=compact.root(), compact=compact)
    return 500


def forge_compact_range_not_hashing_to_the_root(app: Flask, tamper: Callable[..., None], genuine: str) -> int:
    fill_log(app, 200)  # the log reaches 500; the service signed (500, true root) without storing it
    true_root = tree_root(stored_leaves(app)[:500])
    forge_checkpoint(
        tamper,
        tree_size=500,
        note=signed_note(app, 500, true_root),
        root=true_root,
        compact=random_compact_range(500),
    )
    return 500


def forge_range_of_another_history(app: Flask, tamper: Callable[..., None], genuine: str) -> int:
    # A genuinely signed head of a different history (say, kept from before a restore): its signature,
    # root column and compact range all agree; only the leaves it stands for are not this log's.
    fill_log(app, 200)
    other = CompactRange()
    other.extend(leaf_hash(f"another history {n}".encode()) for n in range(500))
    note = signed_note(app, 500, other.root())
    forge_checkpoint(tamper, tree_size=500, note=note, root=other.root(), compact=other)
    return 500


def forge_size_beyond_the_log(app: Flask, tamper: Callable[..., None], genuine: str) -> int:
    compact = random_compact_range(10_000)
    note = signed_note(app, 10_000, compact.root())
    forge_checkpoint(tamper, tree_size=10_000, note=note, root=compact.root(), compact=compact)
    return 10_000


FORGERIES = [
    forge_bad_signature,
    forge_signature_of_another_size,
    forge_compact_range_not_hashing_to_the_root,
    forge_range_of_another_history,
    forge_size_beyond_the_log,
]


@pytest.mark.parametrize("forge", FORGERIES, ids=lambda forge: forge.__name__)
def test_a_forged_row_is_skipped_and_the_true_root_is_signed(
    app: Flask,
    tamper: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
    forge: Callable[[Flask, Callable[..., None], str], int],
) -> None:
    genuine = honest_log(app)
    forged_size = forge(app, tamper, genuine)

    with caplog.at_level(logging.WARNING, logger="rfl.audit.checkpoints"):
        fill_log(app, 600 - len(stored_leaves(app)))  # crosses 512: signs a checkpoint at 600
        note = sign_current(app)

    checkpoint = verify_checkpoint(note, app_services(app).audit_signer.verifier())
    assert checkpoint.size == 600
    assert checkpoint.root == tree_root(stored_leaves(app))
    assert any(
        record.getMessage() == "audit_checkpoint_untrusted" and record.__dict__["tree_size"] == forged_size
        for record in caplog.records
    )
    result = verify(app)
    assert not result.ok
    assert any(f" {forged_size}" in problem for problem in result.problems)


@pytest.mark.parametrize("forge", FORGERIES, ids=lambda forge: forge.__name__)
def test_the_api_keeps_answering_beside_a_forged_row(
    app: Flask,
    client: FlaskClient,
    make: Factories,
    tamper: Callable[..., None],
    forge: Callable[[Flask, Callable[..., None], str], int],
) -> None:
    headers = make.actor_headers(Role.AUDITOR)
    genuine = honest_log(app)
    forge(app, tamper, genuine)

    answers = [client.get("/api/v1/audit/checkpoint", headers=headers) for _ in range(3)]
    fill_log(app, 600 - len(stored_leaves(app)))
    answers.append(client.get("/api/v1/audit/checkpoint", headers=headers))

    assert [answer.status_code for answer in answers] == [200] * 4
    last = verify_checkpoint(answers[-1].get_data(as_text=True), app_services(app).audit_signer.verifier())
    assert last.root == tree_root(stored_leaves(app)[: last.size])


def test_a_forged_row_at_the_size_of_the_next_checkpoint_does_not_stop_signing(
    app: Flask, client: FlaskClient, make: Factories, tamper: Callable[..., None]
) -> None:
    headers = make.actor_headers(Role.AUDITOR)
    honest_log(app)
    fill_log(app, 5)
    size = len(stored_leaves(app))
    compact = random_compact_range(size)
    forge_checkpoint(tamper, tree_size=size, note="forged", root=compact.root(), compact=compact)

    answer = client.get("/api/v1/audit/checkpoint", headers=headers)

    assert answer.status_code == 200
    signed = verify_checkpoint(answer.get_data(as_text=True), app_services(app).audit_signer.verifier())
    assert (signed.size, signed.root) == (size, tree_root(stored_leaves(app)[:size]))
    assert f"stored checkpoint row {size}: signature or format invalid" in verify(app).problems


def test_verification_names_rows_whose_unsigned_columns_lie(app: Flask, tamper: Callable[..., None]) -> None:
    honest_log(app)
    fill_log(app, 40)
    true_root = tree_root(stored_leaves(app)[:320])
    honest_range = CompactRange()
    honest_range.extend(stored_leaves(app)[:330])
    # A genuine note and root, but a compact range of another tree (it even hashes to another root).
    forge_checkpoint(
        tamper,
        tree_size=320,
        note=signed_note(app, 320, true_root),
        root=true_root,
        compact=random_compact_range(320),
    )
    # A genuine note whose root column was changed.
    forge_checkpoint(
        tamper,
        tree_size=330,
        note=signed_note(app, 330, honest_range.root()),
        root=bytes(32),
        compact=honest_range,
    )

    problems = verify(app).problems

    assert problems == [
        "stored checkpoint row 320: its compact range does not match the log",
        "stored checkpoint row 330: its root column differs from its signed root",
    ]


def forge_bad_rows(app: Flask, tamper: Callable[..., None], sizes: range) -> None:
    impostor = CheckpointSigner.generate(app_services(app).audit_signer.name)
    for size in sizes:
        compact = random_compact_range(size)
        note = sign_checkpoint(Checkpoint(ORIGIN, size, compact.root()), impostor)
        forge_checkpoint(tamper, tree_size=size, note=note, root=compact.root(), compact=compact)


def test_resuming_looks_past_several_forged_rows(
    app: Flask, tamper: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    honest_log(app)
    forge_bad_rows(app, tamper, range(301, 310))  # more than a page of rows to look past

    with caplog.at_level(logging.WARNING, logger="rfl.audit.checkpoints"):
        fill_log(app, 20)
        note = sign_current(app)

    assert verify_checkpoint(note, app_services(app).audit_signer.verifier()).root == tree_root(
        stored_leaves(app)
    )
    skipped = [
        r.__dict__["tree_size"] for r in caplog.records if r.getMessage() == "audit_checkpoint_untrusted"
    ]
    assert skipped == list(range(309, 300, -1))


def test_without_a_trusted_row_nearby_the_tree_is_rebuilt_from_the_leaves(
    app: Flask, tamper: Callable[..., None], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "RESUME_SCAN", 3)
    honest_log(app)
    forge_bad_rows(app, tamper, range(301, 305))

    with caplog.at_level(logging.WARNING, logger="rfl.audit.checkpoints"):
        fill_log(app, 20)
        note = sign_current(app)

    assert verify_checkpoint(note, app_services(app).audit_signer.verifier()).root == tree_root(
        stored_leaves(app)
    )
    assert "audit_checkpoints_untrusted_rebuilding_from_leaves" in [r.getMessage() for r in caplog.records]
