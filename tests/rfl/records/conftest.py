"""Record payloads for the tests."""

from __future__ import annotations

import copy
from typing import Any

TRACING_REQUEST: dict[str, Any] = {
    "sought_person": {
        "given_name": "Mohammed",
        "family_name": "Al-Hassan",
        "alternate_names": ["Abu Yusuf"],
        "sex": "M",
        "birth_date": "1990",
        "birth_place": "Aleppo",
        "nationality": "SY",
        "father_name": "Yusuf",
        "mother_name": "Fatima",
        "languages": ["ar"],
        "document_id": "N0123456",
        "phone": "+963 11 555 0100",
    },
    "enquirer": {
        "full_name": "Amina Al-Hassan",
        "relationship": "sister",
        "phone": "+49 30 555 0100",
        "email": "amina@example.org",
        "address": "Berlin",
        "shares_identity_with_sought_person": True,
    },
    "separation": {
        "date": "2023-09",
        "place": "Lampedusa",
        "circumstances": "boat",
        "route": "Libya - Italy",
    },
    "message": "We are in Berlin.",
    "legal_basis": "vital_interest",
}

SIGHTING: dict[str, Any] = {
    "person": {
        "given_name": "Muhammad",
        "family_name": "Alhassan",
        "sex": "M",
        "age": "30-35",
        "nationality": "SY",
        "father_name": "Youssef",
    },
    "registration": {"date": "2024-03-02", "place": "Reception centre, Bari", "country": "IT"},
    "condition": "alive",
    "whereabouts": {"current_place": "Bari", "address": "Via Roma 1", "phone": "+39 080 555 0100"},
    "seeking_family": True,
    "legal_basis": "vital_interest",
}


def _update(person: dict[str, Any], changes: dict[str, Any]) -> None:
    """Apply changes; None removes the field."""
    for name, value in changes.items():
        if value is None:
            person.pop(name, None)
        else:
            person[name] = value


def tracing_request(**person: Any) -> dict[str, Any]:
    body = copy.deepcopy(TRACING_REQUEST)
    _update(body["sought_person"], person)
    return body


def sighting(restrictions: dict[str, Any] | None = None, **person: Any) -> dict[str, Any]:
    body = copy.deepcopy(SIGHTING)
    _update(body["person"], person)
    if restrictions is not None:
        body["restrictions"] = restrictions
    return body
