"""The ``rfl`` command line: bootstrap societies and users, never a password in argv."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from rfl.accounts.models import Society, User
from rfl.cli import main
from rfl.records.models import TracingRequest
from tests.conftest import Factories

PASSWORD = "a long enough password"


def invoke(app: Flask, args: list[str], stdin: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, args, input=stdin)


def test_create_society_and_user(app: Flask, make: Factories) -> None:
    created = invoke(app, ["societies", "create", "--country", "it", "--name", "Italian Red Cross"])
    user = invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "Cw@Example.org",
            "--name",
            "N",
            "--role",
            "caseworker",
            "--society",
            "IT",
        ],
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert created.exit_code == 0, created.output
    assert user.exit_code == 0, user.output
    stored = make.scalar(sa.select(User).where(User.email == "cw@example.org"))
    assert stored is not None
    assert PASSWORD not in stored.password_hash
    society = make.scalar(sa.select(Society).where(Society.code == "IT"))
    assert society is not None
    assert society.country == "IT"
    assert stored.society_id == society.id


def test_non_national_society_needs_a_code(app: Flask, make: Factories) -> None:
    missing = invoke(app, ["societies", "create", "--name", "CTA", "--type", "central_tracing_agency"])
    created = invoke(
        app,
        ["societies", "create", "--name", "CTA", "--type", "central_tracing_agency", "--code", "ICRC-CTA"],
    )

    assert missing.exit_code != 0
    assert created.exit_code == 0, created.output
    assert make.scalar(sa.select(Society.country).where(Society.code == "ICRC-CTA")) is None


def test_duplicate_society_code_is_refused(app: Flask) -> None:
    invoke(app, ["societies", "create", "--country", "DE", "--name", "German Red Cross"])

    again = invoke(app, ["societies", "create", "--country", "DE", "--name", "Other"])

    assert again.exit_code == 1
    assert "already exists" in again.output


def test_password_is_never_taken_from_argv(app: Flask) -> None:
    result = invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "a@b.org",
            "--name",
            "N",
            "--role",
            "admin",
            "--society",
            "IT",
            "--password",
            "x",
        ],
    )

    assert result.exit_code == 2
    assert "No such option" in result.output


def test_mismatched_confirmation_short_password_and_unknown_society_fail(app: Flask, make: Factories) -> None:
    make.society("IT")
    args = ["users", "create", "--email", "a@b.org", "--name", "N", "--role", "admin", "--society"]

    mismatch = invoke(app, [*args, "IT"], stdin=f"{PASSWORD}\nsomething else entirely\n")
    short = invoke(app, [*args, "IT"], stdin="short\n")
    empty = invoke(app, [*args, "IT"], stdin="")
    unknown = invoke(app, [*args, "XX"], stdin=f"{PASSWORD}\n")

    assert [r.exit_code for r in (mismatch, short, empty)] == [2, 2, 2]
    assert unknown.exit_code == 1
    assert PASSWORD not in mismatch.output + short.output + unknown.output
    assert make.scalar(sa.select(User).where(User.email == "a@b.org")) is None


def test_demo_prints_working_credentials_and_seeds_records_once(app: Flask, make: Factories) -> None:
    result = invoke(app, ["demo", "--no-serve"])
    again = invoke(app, ["demo", "--no-serve"])

    assert result.exit_code == 0, result.output
    assert "Created 200 tracing requests" in result.output
    assert "Created" not in again.output
    token = next(line.split("token=")[1] for line in again.output.splitlines() if "token=" in line)
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).json["role"] == "caseworker"
    assert client.get("/api/v1/sightings", headers=headers).json["items"]
    # The search the demo suggests finds the other-spelling registrations seeded in Italy.
    assert "Abdulrahman Haddad" in again.output
    search = client.post("/api/v1/sightings/search", headers=headers, json={"q": "Abdulrahman Haddad"})
    assert search.json["items"][0]["score"] > 0.9
    assert make.scalar(sa.select(sa.func.count()).select_from(TracingRequest)) == 200
