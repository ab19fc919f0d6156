"""Example documents of the API description (fictitious people, no real data)."""

from __future__ import annotations

from typing import Any

TRACING_REQUEST_EXAMPLE: dict[str, Any] = {
    "sought_person": {
        "given_name": "Mohammed",
        "family_name": "Al-Hassan",
        "alternate_names": ["محمد الحسن"],
        "sex": "M",
        "birth_date": "1990",
        "nationality": "SY",
        "father_name": "Yusuf",
        "mother_name": "Fatima",
    },
    "enquirer": {
        "full_name": "Amina Al-Hassan",
        "relationship": "sister",
        "phone": "+49 30 555 0100",
        "shares_identity_with_sought_person": True,
    },
    "separation": {"date": "2023-09", "place": "Lampedusa", "circumstances": "boat"},
    "message": "We are in Berlin.",
    "legal_basis": "vital_interest",
}
SIGHTING_EXAMPLE: dict[str, Any] = {
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
    "whereabouts": {"current_place": "Bari"},
    "seeking_family": True,
    "restrictions": {"no_cross_border": False, "exclude": []},
    "legal_basis": "vital_interest",
}
RECORD_META_EXAMPLE: dict[str, Any] = {
    "id": "6f1c2a52-8f0e-4c57-9a53-2f1d7c4b9e10",
    "status": "open",
    "society": "IT",
    "minor": False,
    "created_at": "2026-11-28T12:00:00+00:00",
    "updated_at": "2026-11-28T12:00:00+00:00",
}
SEARCH_EXAMPLE: dict[str, Any] = {"q": "Mohammed Al-Hassan", "limit": 20}
