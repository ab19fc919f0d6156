"""The record services called directly (no HTTP): what they store, what they refuse, what they audit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from matching import Matcher
from rfl.accounts.models import Society
from rfl.accounts.services import actor_of
from rfl.audit.entries import Action, AuditEntry, Outcome
from rfl.crypto import Crypto
from rfl.db import db
from rfl.errors import NotFound, PermissionDenied
from rfl.extensions import app_services
from rfl.identity import Actor, Role
from rfl.records import services
from rfl.records.models import BlindIndexEntry, RecordEdit, Sighting
from rfl.records.schemas import SightingInputSchema
from tests.conftest import Factories, FakeClock
from tests.rfl.records.conftest import SIGHTING, sighting


class Context:
    """A session, its crypto context and a sink that keeps what the services audited."""

    def __init__(self, session: Session, crypto: Crypto) -> None:
        self.session = session
        self.crypto = crypto
        self.entries: list[AuditEntry] = []

    def audit(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


@pytest.fixture
def context(app: Flask) -> Iterator[Context]:
    with app.app_context(), db.transaction() as session:
        yield Context(session, app_services(app).crypto(session))


class _Unlimited:
    def spend(self, *args: object, **kwargs: object) -> None:
        return None


UNLIMITED = _Unlimited()


def actor(make: Factories, role: Role, society: Society | None = None) -> Actor:
    return actor_of(make.user(role, society=society))


def document(body: dict[str, Any] | None = None) -> dict[str, Any]:
    with_restrictions = {"restrictions": {"no_cross_border": False, "exclude": []}} | (body or SIGHTING)
    loaded: dict[str, Any] = SightingInputSchema().load(with_restrictions)
    return loaded


def create(
    context: Context, creator: Actor, clock: FakeClock, body: dict[str, Any] | None = None
) -> services.RecordView:
    return services.create_record(
        context.session,
        context.crypto,
        creator,
        services.SIGHTINGS,
        document(body),
        now=clock.now,
        audit=context.audit,
    )


def test_create_stores_only_ciphertext_and_index_values_and_audits_field_names(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    caseworker = actor(make, Role.CASEWORKER)

    view = create(context, caseworker, clock)

    stored = context.session.get_one(Sighting, view.id)
    assert stored.person_given_name is not None
    assert b"Muhammad" not in stored.person_given_name
    index_values = context.session.scalars(
        sa.select(BlindIndexEntry.value).where(BlindIndexEntry.record_id == view.id)
    )
    assert all(b"uhammad" not in value for value in index_values)
    [entry] = context.entries
    assert entry.action is Action.SIGHTING_CREATE
    assert "person.given_name" in entry.fields
    assert "Muhammad" not in repr(entry)


def test_read_of_another_societys_record_is_not_found_and_audited_for_the_owner(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    owner = actor(make, Role.CASEWORKER)
    view = create(context, owner, clock)
    stranger = actor(make, Role.TRACING_OFFICER)

    with pytest.raises(NotFound):
        services.read_record(
            context.session, context.crypto, stranger, services.SIGHTINGS, view.id, audit=context.audit
        )

    denied = context.entries[-1]
    assert (denied.action, denied.outcome) == (Action.SIGHTING_READ, Outcome.DENIED)
    assert denied.owner_society_id == owner.society_id


def test_update_reencrypts_only_changed_fields_and_keeps_history_by_name(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    caseworker = actor(make, Role.CASEWORKER)
    view = create(context, caseworker, clock)
    untouched = context.session.get_one(Sighting, view.id).person_family_name
    changed = document(sighting(given_name="Mohamed"))

    updated = services.update_record(
        context.session,
        context.crypto,
        caseworker,
        services.SIGHTINGS,
        view,
        document=changed,
        now=clock.now,
        audit=context.audit,
    )

    stored = context.session.get_one(Sighting, view.id)
    assert updated.document["person"]["given_name"] == "Mohamed"
    assert stored.person_family_name == untouched
    edit = context.session.scalars(sa.select(RecordEdit).where(RecordEdit.record_id == view.id)).one()
    assert edit.changed_fields == ["person.given_name"]


def test_a_caseworker_may_add_restrictions_but_not_lift_them(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    society = make.society()
    make.society("DE", country="DE")
    caseworker = actor(make, Role.CASEWORKER, society)
    view = create(context, caseworker, clock)
    tightened = document(sighting(restrictions={"no_cross_border": True, "exclude": ["DE"]}))

    stricter = services.update_record(
        context.session,
        context.crypto,
        caseworker,
        services.SIGHTINGS,
        view,
        document=tightened,
        now=clock.now,
        audit=context.audit,
    )
    with pytest.raises(PermissionDenied):
        services.update_record(
            context.session,
            context.crypto,
            caseworker,
            services.SIGHTINGS,
            stricter,
            document=document(sighting(restrictions={"no_cross_border": True, "exclude": []})),
            now=clock.now,
            audit=context.audit,
        )

    assert stricter.document["restrictions"] == {"no_cross_border": True, "exclude": ["DE"]}
    denied = context.entries[-1]
    assert (denied.action, denied.outcome, denied.fields) == (
        Action.SIGHTING_UPDATE,
        Outcome.DENIED,
        ("restrictions",),
    )
    officer = actor(make, Role.TRACING_OFFICER, society)
    lifted = services.update_record(
        context.session,
        context.crypto,
        officer,
        services.SIGHTINGS,
        stricter,
        document=document(),
        now=clock.now,
        audit=context.audit,
    )
    assert lifted.document["restrictions"] == {"no_cross_border": False, "exclude": []}


def test_list_shows_display_names_of_the_own_society_only(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    society = make.society()
    caseworker = actor(make, Role.CASEWORKER, society)
    mine = create(
        context, caseworker, clock, sighting(given_name=None, family_name=None, full_name="Alhassan Muhammad")
    )
    create(context, actor(make, Role.CASEWORKER), clock)

    page = services.list_records(
        context.session,
        context.crypto,
        caseworker,
        services.SIGHTINGS,
        status=None,
        limit=10,
        cursor=None,
        audit=context.audit,
    )

    assert [(item.record.id, item.display_name) for item in page.items] == [(mine.id, "Alhassan Muhammad")]
    listed = context.entries[-1]
    assert (listed.action, listed.object_id, listed.fields) == (
        Action.SIGHTING_LIST,
        str(mine.id),
        ("person.full_name",),
    )


def test_search_finds_other_spellings_and_audits_the_search(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    caseworker = actor(make, Role.CASEWORKER)
    view = create(context, caseworker, clock)

    hits = services.search_records(
        context.session,
        context.crypto,
        caseworker,
        services.SIGHTINGS,
        "Mohammed Al-Hassan",
        matcher=Matcher.default(),
        limit=5,
        budget=UNLIMITED,
        now=clock.now,
        audit=context.audit,
    )

    assert [hit.id for hit in hits] == [view.id]
    assert Action.SIGHTING_SEARCH in [entry.action for entry in context.entries]


def test_unknown_record_id_is_not_found(context: Context, make: Factories) -> None:
    with pytest.raises(NotFound):
        services.read_record(
            context.session,
            context.crypto,
            actor(make, Role.CASEWORKER),
            services.SIGHTINGS,
            uuid.uuid4(),
            audit=context.audit,
        )


def test_unknown_and_other_societys_ids_take_the_same_audited_path(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    """Issue 9.7: a cross-society id used to be audited and an unknown one not, so the audit write made
    the first 404 measurably slower. Both now write the same denied entry (only the owner differs)."""
    owner = actor(make, Role.CASEWORKER)
    theirs = create(context, owner, clock).id
    stranger = actor(make, Role.TRACING_OFFICER)
    unknown = uuid.uuid4()
    context.entries.clear()

    for record_id in (theirs, unknown):
        with pytest.raises(NotFound):
            services.read_record(
                context.session, context.crypto, stranger, services.SIGHTINGS, record_id, audit=context.audit
            )

    shapes = [(e.action, e.outcome, e.actor, e.object_type, e.object_id, e.fields) for e in context.entries]
    assert shapes == [
        (Action.SIGHTING_READ, Outcome.DENIED, stranger, "sighting", str(theirs), ()),
        (Action.SIGHTING_READ, Outcome.DENIED, stranger, "sighting", str(unknown), ()),
    ]
    assert [e.owner_society_id for e in context.entries] == [owner.society_id, None]


def test_search_ranks_with_the_matchers_name_evidence(
    context: Context, make: Factories, clock: FakeClock
) -> None:
    # The one name scorer: "Mohammed" is محمد (Muhammad), not محمود (Mahmoud), though both share MHMD.
    caseworker = actor(make, Role.CASEWORKER)
    mahmoud = create(context, caseworker, clock, sighting(given_name="محمود", family_name=None))
    muhammad = create(context, caseworker, clock, sighting(given_name="محمد", family_name=None))

    hits = services.search_records(
        context.session,
        context.crypto,
        caseworker,
        services.SIGHTINGS,
        "Mohammed",
        matcher=Matcher.default(),
        limit=5,
        budget=UNLIMITED,
        now=clock.now,
        audit=context.audit,
    )

    assert [hit.id for hit in hits] == [muhammad.id, mahmoud.id]
    assert hits[0].score > hits[1].score


def test_the_matchers_view_loads_data_keys_a_query_per_slice_of_records(
    app: Flask, context: Context, make: Factories, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    registrar = actor(make, Role.CASEWORKER)
    for _ in range(5):
        create(context, registrar, clock)
    sightings = list(context.session.scalars(sa.select(Sighting)))
    app_services(app).key_cache.clear()  # as in another worker: no data key cached
    monkeypatch.setattr(services, "KEYS_PER_QUERY", 2)  # a slice stays under the database's bound
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = context.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        views = services.canonical_records(context.crypto, services.SIGHTINGS, sightings)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    assert [view["id"] for view in views] == [str(s.id) for s in sightings]
    assert {view["given_name"] for view in views} == {SIGHTING["person"]["given_name"]}
    assert len([s for s in statements if "FROM data_keys" in s]) == 3  # 5 records, 2 a query
