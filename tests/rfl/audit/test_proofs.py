"""Proofs: scoped like the events listing, audited for the owner, against a signed head, few leaves read."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from privacy import ProofError, tree_root, verify_checkpoint, verify_consistency, verify_inclusion
from rfl.accounts.models import Role, Society
from rfl.audit import checkpoints, proofs
from rfl.db import db
from rfl.extensions import app_services
from tests.conftest import Factories
from tests.rfl.audit.conftest import fill_log, sign_checkpoint, stored_leaves
from tests.rfl.records.conftest import sighting


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def check_inclusion_proofs(app: Flask, answer: dict[str, Any]) -> None:
    """What a client does: check the note's signature, then every proof against the signed root."""
    signed = verify_checkpoint(answer["checkpoint"], app_services(app).audit_signer.verifier())
    assert (signed.size, signed.root) == (answer["tree_size"], b64(answer["root"]))
    for proof in answer["proofs"]:
        verify_inclusion(
            proof["seq"], signed.size, b64(proof["leaf_hash"]), [b64(p) for p in proof["proof"]], signed.root
        )


def events_about(client: FlaskClient, headers: dict[str, str], object_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/audit/events?object_id={object_id}&limit=200", headers=headers)
    assert answer.status_code == 200
    items: list[dict[str, Any]] = answer.json["items"]
    return items


def create_sighting(client: FlaskClient, make: Factories, society: Society) -> str:
    answer = client.post(
        "/api/v1/sightings", headers=make.actor_headers(Role.CASEWORKER, society), json=sighting()
    )
    assert answer.status_code == 201
    record_id: str = answer.json["id"]
    return record_id


def test_another_societys_object_answers_as_if_it_had_no_entries(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    italy, germany = make.society("IT"), make.society("DE", country="DE")
    record_id = create_sighting(client, make, italy)
    german_auditor = make.actor_headers(Role.AUDITOR, germany)

    foreign = client.get(f"/api/v1/audit/proof?object_id={record_id}", headers=german_auditor)
    unknown = client.get(
        f"/api/v1/audit/proof?object_id={'0' * 8}-0000-4000-8000-{'0' * 12}", headers=german_auditor
    )
    own = client.get(
        f"/api/v1/audit/proof?object_id={record_id}", headers=make.actor_headers(Role.AUDITOR, italy)
    )

    assert foreign.status_code == unknown.status_code == own.status_code == 200
    assert foreign.json["proofs"] == unknown.json["proofs"] == []
    assert [proof["seq"] for proof in own.json["proofs"]] == [
        e["seq"]
        for e in events_about(client, make.actor_headers(Role.AUDITOR, italy), record_id)
        if e["seq"] < own.json["tree_size"]
    ]
    assert own.json["proofs"]
    check_inclusion_proofs(app, own.json)


def test_the_owning_society_sees_proof_requests_about_its_records(
    client: FlaskClient, make: Factories
) -> None:
    italy, germany = make.society("IT"), make.society("DE", country="DE")
    record_id = create_sighting(client, make, italy)
    german_auditor, italian_auditor = (
        make.user(Role.AUDITOR, society=germany),
        make.user(Role.AUDITOR, society=italy),
    )

    client.get(f"/api/v1/audit/proof?object_id={record_id}", headers=make.auth(german_auditor))
    client.get(f"/api/v1/audit/proof?object_id={record_id}", headers=make.auth(italian_auditor))

    seen_by_italy = [
        (e["actor_user_id"], e["outcome"])
        for e in events_about(client, make.auth(italian_auditor), record_id)
        if e["action"] == "audit.proof"
    ]
    assert seen_by_italy == [(str(german_auditor.id), "denied"), (str(italian_auditor.id), "ok")]
    assert [
        e for e in events_about(client, make.auth(german_auditor), record_id) if e["action"] == "audit.proof"
    ] == []


@pytest.fixture
def leaf_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many stored leaf hashes each block read of the proofs fetched."""
    reads: list[int] = []
    real = checkpoints.stored_leaf_hashes

    def counting(session: Any, lo: int, hi: int) -> list[bytes]:
        leaves = real(session, lo, hi)
        reads.append(len(leaves))
        return leaves

    monkeypatch.setattr(checkpoints, "stored_leaf_hashes", counting)
    return reads


@pytest.fixture
def unbounded_leaf_queries(app: Flask) -> Iterator[list[str]]:
    """SELECTs of leaf hashes that are not limited to a range of entries."""
    found: list[str] = []

    def inspect(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.split())
        if "SELECT audit_events.leaf_hash" in text and "audit_events.seq >=" not in text:
            found.append(text)

    engine = db.engine_of(app)
    sa.event.listen(engine, "before_cursor_execute", inspect)
    yield found
    sa.event.remove(engine, "before_cursor_execute", inspect)


def grow_log_with_checkpoints(app: Flask, size: int) -> None:
    """A log of ``size`` entries with a checkpoint every 256 entries, as the service signs them."""
    while len(stored_leaves(app)) < size:
        fill_log(app, min(100, size - len(stored_leaves(app))))


def test_proofs_read_a_few_blocks_of_leaves_not_every_leaf(
    app: Flask,
    client: FlaskClient,
    make: Factories,
    leaf_reads: list[int],
    unbounded_leaf_queries: list[str],
) -> None:
    society = make.society()
    headers = make.actor_headers(Role.AUDITOR, society)
    grow_log_with_checkpoints(app, 3000)
    fill_log(app, 1, owner=society.id)  # "obj-0" of this society, at index ~3000
    size = len(stored_leaves(app))
    leaf_reads.clear()

    inclusion = client.get("/api/v1/audit/proof?object_id=obj-0", headers=headers)
    read_for_inclusion = sum(leaf_reads)
    consistency = client.get("/api/v1/audit/consistency?from_size=1234", headers=headers)
    read_for_consistency = sum(leaf_reads) - read_for_inclusion

    assert inclusion.status_code == consistency.status_code == 200
    check_inclusion_proofs(app, inclusion.json)
    assert len(inclusion.json["proofs"]) == 1
    signed = verify_checkpoint(consistency.json["checkpoint"], app_services(app).audit_signer.verifier())
    old_root = tree_root(stored_leaves(app)[:1234])
    verify_consistency(1234, signed.size, [b64(p) for p in consistency.json["proof"]], old_root, signed.root)
    assert b64(consistency.json["from_root"]) == old_root
    # Subtrees come from the signed compact ranges; only nodes narrower than the checkpoint spacing
    # (a few blocks of at most LEAF_BLOCK leaves) are hashed from stored leaves, not the 3000 leaves.
    assert read_for_inclusion <= proofs.LEAF_BLOCK
    assert read_for_consistency <= 4 * proofs.LEAF_BLOCK < size
    assert unbounded_leaf_queries == []


def test_a_proof_never_vouches_for_an_altered_entry(
    app: Flask, client: FlaskClient, make: Factories, tamper: Callable[..., None]
) -> None:
    society = make.society()
    headers = make.actor_headers(Role.AUDITOR, society)
    fill_log(app, 3, owner=society.id)
    client.get("/api/v1/audit/checkpoint", headers=headers)
    tamper("UPDATE audit_events SET fields = :f WHERE object_id = 'obj-1'", f=["family_name"])

    answer = client.get("/api/v1/audit/proof?object_id=obj-1", headers=headers).json

    (proof,) = answer["proofs"]
    with pytest.raises(ProofError):
        verify_inclusion(
            proof["seq"],
            answer["tree_size"],
            b64(proof["leaf_hash"]),
            [b64(p) for p in proof["proof"]],
            b64(answer["root"]),
        )


def test_proofs_over_a_log_with_missing_entries_are_refused_cleanly(
    app: Flask, client: FlaskClient, make: Factories, tamper: Callable[..., None]
) -> None:
    headers = make.actor_headers(Role.AUDITOR)
    fill_log(app, 10)
    sign_checkpoint(app)
    tamper("DELETE FROM audit_events WHERE seq = 3")
    fill_log(app, 5)

    answer = client.get("/api/v1/audit/consistency?from_size=5", headers=headers)

    assert answer.status_code == 409
    assert answer.mimetype == "application/problem+json"
