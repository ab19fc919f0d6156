"""A fitted matcher forgets erased records: its name frequencies are as if they had never been counted."""

from __future__ import annotations

from matching import Matcher

LEFT = [
    {"id": f"r{n}", "given_name": given, "family_name": family, "birth_date": "1990", "sex": "M"}
    for n, (given, family) in enumerate(
        [
            ("Mohammed", "Hassan"),
            ("Yusuf", "Haddad"),
            ("Tesfay", "Gebre"),
            ("Omar", "Hassan"),
            ("Zqxw", "Vmrk"),
        ]
    )
]
RIGHT = [
    {"id": f"s{n}", "given_name": given, "family_name": family, "birth_date": "1990", "sex": "M"}
    for n, (given, family) in enumerate([("Muhammad", "Hasan"), ("Youssef", "Hadad"), ("Tesfaye", "Gebre")])
]


def test_forgetting_a_record_gives_the_frequencies_of_a_fit_without_it() -> None:
    fitted = Matcher.fit(LEFT, RIGHT)
    without = Matcher.fit(LEFT[:-1], RIGHT)

    forgot = fitted.without([LEFT[-1]])

    assert forgot.frequencies.records == without.frequencies.records
    assert dict(forgot.frequencies.names) == dict(without.frequencies.names)
    assert dict(forgot.frequencies.pairs) == dict(without.frequencies.pairs)
    assert not any("zqxw" in name.lower() or "vmrk" in name.lower() for name in forgot.frequencies.names)
    assert fitted.without([]) is fitted
