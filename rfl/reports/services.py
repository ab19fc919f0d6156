"""Monitoring and evaluation reports, counted from the skeleton of the records only.

What a report reads: ids, owning societies, statuses, the codes of conditions, consent terms and
disclosure outcomes, flags, and timestamps. Never a ciphertext, never a data key: report code holds no
crypto context and calls no decryption. Erased records keep exactly this skeleton, so they keep being
counted.

Who may run one: admins and auditors. Those of the Central Tracing Agency report on any society or on
all of them together (no ``society``); everyone else on their own society only. Each run, allowed or
refused, is audited with the report's name and its parameters as codes (never free text).

Every count table is protected before it leaves this module (``rfl.reports.tables``).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import SQLCoreOperations

from privacy import ConsentMethod, ConsentStatus, Reason
from rfl.audit.entries import Action, AuditEntry, AuditSink, Outcome
from rfl.consent.models import Consent
from rfl.disclosures.models import Disclosure, DisclosureOutcome
from rfl.errors import PermissionDenied, ValidationFailed
from rfl.identity import Actor, Role, is_central_tracing_agency, society_codes, society_ids_by_code
from rfl.matches.models import MatchCandidate, MatchStatus
from rfl.records.models import FINAL_STATUSES, RESTRICTED, Condition, RecordStatus, Sighting, TracingRequest
from rfl.reports.periods import Window
from rfl.reports.sql import days_between, month_of
from rfl.reports.tables import Table, count_table, duration_table, share_table

REPORTING_ROLES = frozenset({Role.ADMIN, Role.AUDITOR})
# The reasons of an allowed disclosure (every other reason is a denial's).
ALLOWING = (Reason.CONSENT_COVERS_REQUEST, Reason.FATE_OF_DECEASED)
NOT_RECORDED = "not_recorded"


class ReportName(StrEnum):
    TRACING_ACTIVITY = "tracing-activity"
    MATCHING = "matching"
    CONSENT_DISCLOSURE = "consent-disclosure"
    FLOWS = "flows"


@dataclass(frozen=True)
class ReportQuery:
    name: ReportName
    # A society code; None: the caller's own society, or every society for the Central Tracing Agency.
    society: str | None
    window: Window
    # How the report is delivered (json, csv, png, table): recorded in the audit entry.
    format: str


@dataclass(frozen=True)
class Scope:
    """Whose records a report counts: one society, or (``society_id`` None) every society."""

    society_id: uuid.UUID | None
    society_code: str | None


@dataclass(frozen=True)
class Report:
    name: ReportName
    scope: Scope
    window: Window
    threshold: int
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        return next(table for table in self.tables if table.name == name)


def run_report(
    session: Session, actor: Actor | None, query: ReportQuery, *, threshold: int, audit: AuditSink
) -> Report:
    """Count and protect one report for ``actor`` (None: the operator on the command line, who may
    report on anything), and audit the run."""
    if actor is not None and actor.role not in REPORTING_ROLES:
        audit(_entry(actor, query, threshold, None, Outcome.DENIED))
        raise PermissionDenied("Only admins and auditors run reports.")
    problems = query.window.problems()
    if problems:
        raise ValidationFailed(problems)
    scope = _scope(session, actor, query, threshold, audit)
    tables = BUILDERS[query.name](session, scope, query.window, threshold)
    audit(_entry(actor, query, threshold, scope))
    return Report(query.name, scope, query.window, threshold, tables)


def _scope(
    session: Session, actor: Actor | None, query: ReportQuery, threshold: int, audit: AuditSink
) -> Scope:
    """Whose records the report counts. ``own``: the actor held to their own society (None: the
    operator, or the Central Tracing Agency, who may report on any society or on all of them)."""
    own = None if actor is None or is_central_tracing_agency(session, actor.society_id) else actor
    if query.society is None:
        return Scope(None, None) if own is None else Scope(own.society_id, own.society_code)
    code = query.society.strip().upper()
    if own is not None and code != own.society_code:
        audit(_entry(own, query, threshold, None, Outcome.DENIED))
        raise PermissionDenied("Only the Central Tracing Agency reports on other societies.")
    found = society_ids_by_code(session, [code])
    if code not in found:
        raise ValidationFailed({"society": ["No such society."]})
    return Scope(found[code], code)


def _entry(
    actor: Actor | None,
    query: ReportQuery,
    threshold: int,
    scope: Scope | None,
    outcome: Outcome = Outcome.OK,
) -> AuditEntry:
    """Who ran which report with which parameters: names and codes, nothing else."""
    society = scope.society_code if scope is not None else query.society
    parameters = (
        f"society={(society or '*').strip().upper()}",
        f"from={query.window.start.isoformat()}",
        f"to={query.window.end.isoformat()}",
        f"granularity={query.window.granularity.value}",
        f"format={query.format}",
        f"threshold={threshold}",
    )
    return AuditEntry(
        Action.REPORT_RUN,
        outcome=outcome,
        actor=actor,
        owner_society_id=scope.society_id if scope is not None else None,
        object_type="report",
        object_id=query.name.value,
        fields=parameters,
    )


# --- what each report counts ----------------------------------------------------------------------------

Builder = Callable[[Session, Scope, Window, int], tuple[Table, ...]]
T = TypeVar("T")
# A mapped attribute or an SQL expression of one (both compare into SQL conditions).
Column = SQLCoreOperations[T]


def _within(column: Column[datetime] | Column[datetime | None], window: Window) -> sa.ColumnElement[bool]:
    return sa.and_(column >= window.since, column < window.until)


def _owned(column: Column[uuid.UUID], scope: Scope) -> sa.ColumnElement[bool]:
    return sa.true() if scope.society_id is None else column == scope.society_id


def _either_side(
    requesting: Column[uuid.UUID], sighting: Column[uuid.UUID], scope: Scope
) -> sa.ColumnElement[bool]:
    if scope.society_id is None:
        return sa.true()
    return sa.or_(requesting == scope.society_id, sighting == scope.society_id)


def _pairs_known_to(scope: Scope) -> sa.ColumnElement[bool]:
    """The match candidates a society's report counts: every pair of its sightings, and the pairs of its
    requests its side may know of. Not those the found person refused (rule 2: the family's side knows
    only that the search closed) nor those of a restricted sighting of another society (rule 10; any
    restriction leaves the pair out: which requests an ``exclude`` list names is not tested per pair)."""
    if scope.society_id is None:
        return sa.true()
    unrestricted = sa.select(Sighting.id).where(
        sa.or_(Sighting.society_id == scope.society_id, sa.not_(RESTRICTED))
    )
    known_to_the_requests = sa.and_(
        MatchCandidate.request_society_id == scope.society_id,
        MatchCandidate.outcome.is_(None),
        MatchCandidate.sighting_id.in_(unrestricted),
    )
    return sa.or_(MatchCandidate.sighting_society_id == scope.society_id, known_to_the_requests)


class _Counts:
    """Counting in the database: rows grouped by UTC month and code come back, not one per record."""

    def __init__(self, session: Session, window: Window) -> None:
        self.session = session
        self.window = window
        self.dialect = session.get_bind().dialect.name

    def month(self, moment: Any) -> sa.ColumnElement[str]:
        return month_of(self.dialect, moment)

    def days(self, start: Any, end: Any) -> sa.ColumnElement[float]:
        return days_between(self.dialect, start, end)

    def per_period(
        self, moment: Column[datetime] | Column[datetime | None], codes: Sequence[Any], *where: Any
    ) -> Counter[tuple[str, str]]:
        """How many rows with ``moment`` in the window (and ``where``) each period and combination of
        ``codes`` (joined with ".") has."""
        month = self.month(moment)
        statement = (
            sa.select(month, *codes, sa.func.count())
            .where(_within(moment, self.window), *where)
            .group_by(month, *codes)
        )
        counts: Counter[tuple[str, str]] = Counter()
        for month_label, *values, count in self.session.execute(statement):
            counts[(self.window.period_of_month(month_label), ".".join(map(_code, values)))] += count
        return counts

    def durations(self, statement: sa.Select[str, float]) -> dict[str, list[float]]:
        """Days per period from ``statement``'s rows of (month, days); rows without days (the event has
        not happened) are left out."""
        days: dict[str, list[float]] = defaultdict(list)
        for month_label, elapsed in self.session.execute(statement):
            if elapsed is None:
                continue
            # Timestamps come from the database default and the application clock; a skew between
            # them must not make a waiting time negative.
            days[self.window.period_of_month(month_label)].append(max(0.0, float(elapsed)))
        return days


def _code(value: object) -> str:
    if value is None:
        return NOT_RECORDED
    return value.value if isinstance(value, StrEnum) else str(value)


def _per_period(
    window: Window,
    threshold: int,
    name: str,
    definition: str,
    *,
    column_dimension: str,
    columns: Iterable[str],
    counts: Counter[tuple[str, str]],
) -> Table:
    """A table of counts per period (rows) and column, with every margin."""
    return count_table(
        name,
        definition,
        row_dimension="period",
        rows=window.periods(),
        column_dimension=column_dimension,
        columns=tuple(columns),
        counts=counts,
        threshold=threshold,
    )


def tracing_activity(session: Session, scope: Scope, window: Window, threshold: int) -> tuple[Table, ...]:
    counts = _Counts(session, window)
    mine = _owned(TracingRequest.society_id, scope)
    opened = counts.per_period(TracingRequest.created_at, [TracingRequest.status], mine)
    closed = counts.per_period(
        TracingRequest.closed_at, [TracingRequest.status], mine, TracingRequest.status.in_(FINAL_STATUSES)
    )
    theirs = _owned(Sighting.society_id, scope)
    registered = counts.per_period(Sighting.created_at, [Sighting.condition_code], theirs)
    minors = counts.per_period(Sighting.created_at, [Sighting.condition_code], theirs, Sighting.minor)
    conditions = (*(c.value for c in Condition), NOT_RECORDED)
    return (
        _per_period(
            window,
            threshold,
            "tracing_requests_opened",
            "Tracing requests opened in each period (created in the system), by their status now. The "
            "row total is the number opened.",
            column_dimension="status",
            columns=(s.value for s in RecordStatus),
            counts=opened,
        ),
        _per_period(
            window,
            threshold,
            "tracing_requests_closed",
            "Tracing requests that reached a final status in each period, by outcome: disclosed (the "
            "family was told what the found person agreed to) or closed (the search ended otherwise, "
            "including when the found person wished no contact).",
            column_dimension="outcome",
            columns=sorted(FINAL_STATUSES),
            counts=closed,
        ),
        _per_period(
            window,
            threshold,
            "sightings_by_condition",
            "Sightings registered in each period (entered in the system; the registration date itself is "
            "personal data), by the found person's condition now. not_recorded: registered before the "
            "condition was kept in plain form and not yet filled in.",
            column_dimension="condition",
            columns=conditions,
            counts=registered,
        ),
        _per_period(
            window,
            threshold,
            "minor_sightings_by_condition",
            "Of the sightings above, those of possible minors (domain rule 3): a person whom any reading "
            "of the birth date or age could make under 18 on the registration date, or whom a caseworker "
            "flagged, or whose age is unknown. The system does not record whether a child travels with "
            "family, so this is the upper bound of unaccompanied and separated children found.",
            column_dimension="condition",
            columns=conditions,
            counts=minors,
        ),
        *_request_durations(counts, scope, threshold),
    )


def _request_durations(counts: _Counts, scope: Scope, threshold: int) -> tuple[Table, ...]:
    """Days from a tracing request's creation to its first proposal, its confirmed match and its first
    allowed disclosure, per period the request was opened in (whenever the event came)."""
    # When each request first reached each event: grouped once over the events of the requests opened
    # in the window (a derived table), then joined to those requests. (Looked up request by request
    # instead, an engine may pick the index on the candidates' status and scan every confirmed
    # candidate per request.)
    opened = sa.select(TracingRequest.id).where(
        _within(TracingRequest.created_at, counts.window), _owned(TracingRequest.society_id, scope)
    )
    first_proposal = (
        sa.select(MatchCandidate.tracing_request_id, sa.func.min(MatchCandidate.created_at))
        .where(MatchCandidate.tracing_request_id.in_(opened), _pairs_known_to(scope))
        .group_by(MatchCandidate.tracing_request_id)
    )
    # A match counts as confirmed when its status became confirmed: at the second officer's approval
    # where one was needed, else at the confirmation. A request has at most one (a unique index).
    confirmation = sa.select(
        MatchCandidate.tracing_request_id,
        sa.func.coalesce(MatchCandidate.approved_at, MatchCandidate.confirmed_at),
    ).where(
        MatchCandidate.tracing_request_id.in_(opened),
        MatchCandidate.status == MatchStatus.CONFIRMED,
        _pairs_known_to(scope),
    )
    disclosure = (
        sa.select(Disclosure.tracing_request_id, sa.func.min(Disclosure.decided_at))
        .where(Disclosure.tracing_request_id.in_(opened), Disclosure.outcome == DisclosureOutcome.ALLOWED)
        .group_by(Disclosure.tracing_request_id)
    )
    tables = []
    for name, events, event in (
        ("time_to_first_proposal", first_proposal, "the matcher's first proposal for it"),
        ("time_to_confirmation", confirmation, "its match being confirmed (and approved where needed)"),
        ("time_to_disclosure", disclosure, "the first disclosure to the family"),
    ):
        reached = events.subquery()
        request_id, happened = reached.c
        statement = sa.select(
            counts.month(TracingRequest.created_at), counts.days(TracingRequest.created_at, happened)
        ).join(reached, request_id == TracingRequest.id)
        tables.append(
            duration_table(
                name,
                f"Days from a tracing request's creation to {event}, for the requests opened in each "
                "period that have got there: the median and the 90th percentile, shown only for groups "
                "of at least the threshold (how many is not published).",
                periods=counts.window.periods(),
                days=counts.durations(statement),
                threshold=threshold,
            )
        )
    return tuple(tables)


def matching(session: Session, scope: Scope, window: Window, threshold: int) -> tuple[Table, ...]:
    candidates = _Counts(session, window).per_period(
        MatchCandidate.created_at,
        [MatchCandidate.status],
        _pairs_known_to(scope),
    )
    by_status = _per_period(
        window,
        threshold,
        "candidates_by_status",
        "Match candidates the matcher proposed in each period (a pair proposed again after a record "
        "changed counts again), by their status now; with a society, the pairs where it holds the "
        "sighting, or the request unless the found person refused contact or the sighting's "
        "restrictions keep it from that side. The row total is the number proposed.",
        column_dimension="status",
        columns=(s.value for s in MatchStatus),
        counts=candidates,
    )
    share = share_table(
        "share_confirmed",
        "Of the candidates proposed in each period that officers decided on, the share confirmed: "
        "confirmed / (confirmed + rejected). Withheld when either count is.",
        source=by_status,
        rows=window.periods(),
        numerator=MatchStatus.CONFIRMED.value,
        denominator=(MatchStatus.CONFIRMED.value, MatchStatus.REJECTED.value),
    )
    return by_status, share


def consent_disclosure(session: Session, scope: Scope, window: Window, threshold: int) -> tuple[Table, ...]:
    counts = _Counts(session, window)
    consents = counts.per_period(
        Consent.recorded_at, [Consent.decision, Consent.method], _owned(Consent.society_id, scope)
    )
    # The reasons are a list per row (JSON): these rows come back one by one, with their month.
    decided = sa.select(counts.month(Disclosure.decided_at), Disclosure.outcome, Disclosure.reasons).where(
        _within(Disclosure.decided_at, window),
        _either_side(Disclosure.request_society_id, Disclosure.sighting_society_id, scope),
    )
    outcomes: Counter[tuple[str, str]] = Counter()
    denials: Counter[tuple[str, str]] = Counter()
    for month_label, outcome, reasons in session.execute(decided):
        period = window.period_of_month(month_label)
        outcomes[(period, _outcome_column(outcome, reasons))] += 1
        if outcome is DisclosureOutcome.DENIED:
            denials.update((period, reason) for reason in reasons)
    terms = [f"{d.value}.{m.value}" for d in ConsentStatus for m in ConsentMethod]
    return (
        _per_period(
            window,
            threshold,
            "consents_by_decision_and_method",
            "Consent records recorded in each period by the found person's society, by decision and "
            "how it was obtained (decision.method). The row total is the number recorded.",
            column_dimension="decision.method",
            columns=terms,
            counts=consents,
        ),
        _per_period(
            window,
            threshold,
            "disclosures_by_outcome",
            "Requests to disclose to a family decided in each period by the consent policy; with a "
            "society, those where it holds the request or the sighting. Allowed ones by their one reason "
            "(allowed.consent_covers_request, allowed.fate_of_deceased), denied ones together. The row "
            "total is the number decided.",
            column_dimension="outcome",
            columns=(*(f"{DisclosureOutcome.ALLOWED.value}.{r.value}" for r in ALLOWING), "denied"),
            counts=outcomes,
        ),
        count_table(
            "denials_by_reason",
            "The denied requests of each period by every reason the policy gave: a denial counts once "
            "under each of its reasons, so the columns do not add up and no totals across reasons are "
            "published.",
            row_dimension="period",
            rows=window.periods(),
            column_dimension="reason",
            columns=tuple(r.value for r in Reason if r not in ALLOWING),
            counts=denials,
            threshold=threshold,
            row_totals=False,
            grand_total=False,
        ),
    )


def _outcome_column(outcome: DisclosureOutcome, reasons: list[str]) -> str:
    """An allowed decision's column is its reason: the policy gives an allowed decision exactly one, so
    these columns split the allowed ones, and no other table's figures add up to one of them."""
    if outcome is DisclosureOutcome.DENIED:
        return "denied"
    allowing = next((reason for reason in reasons if reason in ALLOWING), Reason.CONSENT_COVERS_REQUEST.value)
    return f"{outcome.value}.{allowing}"


def flows(session: Session, scope: Scope, window: Window, threshold: int) -> tuple[Table, ...]:
    confirmed_at = sa.func.coalesce(MatchCandidate.approved_at, MatchCandidate.confirmed_at)
    pairs = (MatchCandidate.request_society_id, MatchCandidate.sighting_society_id)
    grouped = session.execute(
        sa.select(*pairs, sa.func.count())
        .where(
            MatchCandidate.status == MatchStatus.CONFIRMED,
            _within(confirmed_at, window),
            _pairs_known_to(scope),
        )
        .group_by(*pairs)
    ).all()
    codes = society_codes(session, {society for row in grouped for society in row[:2]} | _scope_ids(scope))
    counts = Counter({(codes[requesting], codes[found]): count for requesting, found, count in grouped})
    societies = sorted(codes.values())
    own = scope.society_code
    if own is None:
        visible = None
        margins: dict[str, object] = {}
    else:
        # A society sees its own row and column; flows between others are not its to know.
        def visible(requesting: str, found: str) -> bool:
            return own in (requesting, found)

        margins = {
            "row_totals": [code == own for code in societies],
            "column_totals": [code == own for code in societies],
            "grand_total": False,
        }
    return (
        count_table(
            "confirmed_matches_by_societies",
            "Matches confirmed in the window (the whole window, not per period), by the society that "
            "asked (row) and the society that found the person (column); the diagonal holds matches "
            "within one society. With a society, only its own row and column.",
            row_dimension="requesting_society",
            rows=societies,
            column_dimension="sighting_society",
            columns=societies,
            counts=counts,
            threshold=threshold,
            visible=visible,
            **margins,  # type: ignore[arg-type]
        ),
    )


def _scope_ids(scope: Scope) -> set[uuid.UUID]:
    return set() if scope.society_id is None else {scope.society_id}


BUILDERS: dict[ReportName, Builder] = {
    ReportName.TRACING_ACTIVITY: tracing_activity,
    ReportName.MATCHING: matching,
    ReportName.CONSENT_DISCLOSURE: consent_disclosure,
    ReportName.FLOWS: flows,
}
