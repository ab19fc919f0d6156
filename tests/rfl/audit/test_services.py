"""The audit log: one order, recomputable leaves, signed checkpoints, and tampering caught."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from privacy import leaf_hash, verify_checkpoint
from rfl.audit.log import CHECKPOINT_INTERVAL, canonical_form
from rfl.audit.models import AuditEvent
from rfl.db import db
from rfl.extensions import app_services
from tests.rfl.audit.conftest import fill_log, sign_checkpoint, verify


def events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))


def test_entries_get_consecutive_indexes_and_recomputable_leaves(app: Flask) -> None:
    fill_log(app, 3)
    fill_log(app, 2)

    stored = events(app)

    assert [event.seq for event in stored] == [0, 1, 2, 3, 4]
    assert all(event.leaf_hash == leaf_hash(canonical_form(event)) for event in stored)
    assert verify(app).ok


def test_checkpoints_are_signed_notes_of_the_current_tree(app: Flask) -> None:
    fill_log(app, 7)

    note = sign_checkpoint(app)

    checkpoint = verify_checkpoint(note, app_services(app).audit_signer.verifier())
    assert checkpoint.size == 7
    assert checkpoint.root == verify(app).root
    assert note == sign_checkpoint(app)  # nothing appended: the same checkpoint


def test_a_checkpoint_is_signed_periodically(app: Flask) -> None:
    fill_log(app, CHECKPOINT_INTERVAL + 1)

    assert verify(app).checkpoint is not None


def test_altered_entry_is_named(app: Flask, tamper: Callable[..., None]) -> None:
    fill_log(app, 5)
    tamper("UPDATE audit_events SET action = 'record.update' WHERE seq = 3")

    result = verify(app)

    assert not result.ok
    assert result.problems[0].startswith("entry 3 ")


def test_altered_entry_with_recomputed_hash_is_caught_by_the_checkpoint(
    app: Flask, tamper: Callable[..., None]
) -> None:
    fill_log(app, 5)
    sign_checkpoint(app)
    victim = events(app)[2]
    victim.object_id = "someone-else"
    tamper(
        "UPDATE audit_events SET object_id = 'someone-else', leaf_hash = :h WHERE seq = 2",
        h=leaf_hash(canonical_form(victim)),
    )

    result = verify(app)

    assert not result.ok
    assert "does not extend" in result.problems[0]


def test_deleted_entry_is_named(app: Flask, tamper: Callable[..., None]) -> None:
    fill_log(app, 5)
    tamper("DELETE FROM audit_events WHERE seq = 1")

    result = verify(app)

    assert not result.ok
    assert result.problems[0].startswith("entry 1: missing")


def test_reordered_entries_are_caught(app: Flask, tamper: Callable[..., None]) -> None:
    fill_log(app, 5)
    tamper("UPDATE audit_events SET seq = 100 WHERE seq = 1")
    tamper("UPDATE audit_events SET seq = 1 WHERE seq = 2")
    tamper("UPDATE audit_events SET seq = 2 WHERE seq = 100")

    result = verify(app)

    assert not result.ok
    assert result.problems[0].startswith("entry 1 ")


def test_inserted_entry_is_caught_by_the_checkpoint(app: Flask, tamper: Callable[..., None]) -> None:
    fill_log(app, 4)
    sign_checkpoint(app)
    # Make room at index 1 and forge a well-formed entry there, recomputing every later leaf hash.
    stored = events(app)
    for event in reversed(stored[1:]):
        event.seq += 1
        tamper(
            "UPDATE audit_events SET seq = :new, leaf_hash = :h WHERE id = :id",
            new=event.seq,
            h=leaf_hash(canonical_form(event)),
            id=event.id,
        )
    forged = stored[0]
    forged.seq, forged.id = 1, forged.id.__class__(int=forged.id.int ^ 1)
    tamper(
        "INSERT INTO audit_events (seq, id, occurred_at, action, outcome, object_type, object_id, fields, "
        "leaf_hash) VALUES (1, :id, :at, :action, 'ok', :ot, :oid, :fields, :h)",
        id=forged.id,
        at=forged.occurred_at,
        action=forged.action,
        ot=forged.object_type,
        oid=forged.object_id,
        fields=["given_name"],
        h=leaf_hash(canonical_form(forged)),
    )

    result = verify(app)

    assert not result.ok
    assert "does not extend" in " ".join(result.problems)


def test_removing_the_newest_entries_and_their_checkpoints_needs_an_exported_checkpoint(
    app: Flask, tamper: Callable[..., None]
) -> None:
    fill_log(app, 6)
    exported = sign_checkpoint(app)
    tamper("DELETE FROM audit_events WHERE seq >= 4")
    tamper("DELETE FROM audit_checkpoints")

    assert verify(app).ok  # the database alone cannot tell ...
    result = verify(app, against=exported)  # ... the auditor's copy can

    assert not result.ok
    assert "entries removed" in result.problems[0]


def test_an_exported_checkpoint_of_an_honest_log_verifies(app: Flask) -> None:
    fill_log(app, 3)
    exported = sign_checkpoint(app)
    fill_log(app, 4)

    assert verify(app, against=exported).ok


def test_a_forged_checkpoint_is_refused(app: Flask) -> None:
    fill_log(app, 3)
    exported = sign_checkpoint(app)
    forged = exported.replace("\n3\n", "\n2\n", 1)

    result = verify(app, against=forged)

    assert not result.ok
    assert "signature" in result.problems[0]


def test_later_checkpoints_extend_the_stored_compact_range(app: Flask) -> None:
    fill_log(app, 5)
    sign_checkpoint(app)
    fill_log(app, 6)

    note = sign_checkpoint(app)

    checkpoint = verify_checkpoint(note, app_services(app).audit_signer.verifier())
    assert checkpoint.size == 11
    assert checkpoint.root == verify(app).root
    assert verify(app).ok


def test_a_damaged_compact_range_is_not_trusted(app: Flask, tamper: Callable[..., None]) -> None:
    fill_log(app, 5)
    sign_checkpoint(app)
    tamper("UPDATE audit_checkpoints SET compact_range = :junk", junk=b"\x00" * 64)
    fill_log(app, 3)

    note = sign_checkpoint(app)

    assert verify_checkpoint(note, app_services(app).audit_signer.verifier()).root == verify(app).root
