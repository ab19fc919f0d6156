"""Accounts over HTTP: tokens, /me, user management, and the refusals."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from rfl.accounts.models import ApiToken, Role, User
from rfl.audit.models import AuditEvent
from rfl.db import db
from tests.conftest import DEFAULT_PASSWORD, Factories, FakeClock

PROBLEM = "application/problem+json"


def login(client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD, ip: str = "198.51.100.7"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/auth/token", json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def user_count(make: Factories) -> int:
    return make.scalar(sa.select(sa.func.count()).select_from(User)) or 0


class TestLogin:
    def test_valid_credentials_issue_a_token_that_authenticates(
        self, client: FlaskClient, make: Factories
    ) -> None:
        user = make.user(Role.TRACING_OFFICER, email="officer@example.org")

        response = login(client, "Officer@Example.org ")

        assert response.status_code == 201
        token = response.json["token"]
        assert len(token) >= 4 + 43  # prefix + 256 bits in base64url
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json == {
            "id": str(user.id),
            "email": "officer@example.org",
            "name": "Test User",
            "role": "tracing_officer",
            "society": user.society.code,
        }

    def test_only_the_hash_of_a_token_is_stored(self, client: FlaskClient, make: Factories) -> None:
        make.user(email="a@example.org")
        token = login(client, "a@example.org").json["token"]

        with make.app.app_context():
            stored = db.session.scalars(sa.select(ApiToken.token_hash)).all()

        assert hashlib.sha256(token.encode()).digest() in stored
        assert all(token.encode() not in value for value in stored)

    def test_wrong_password_and_unknown_email_answer_the_same(
        self, client: FlaskClient, make: Factories
    ) -> None:
        make.user(email="known@example.org")

        wrong_password = login(client, "known@example.org", "not the password at all")
        unknown_email = login(client, "nobody@example.org", "not the password at all")

        assert wrong_password.status_code == unknown_email.status_code == 401
        assert wrong_password.json == unknown_email.json
        assert wrong_password.mimetype == PROBLEM

    def test_an_email_with_accounts_in_two_societies_logs_in_with_its_society(
        self, client: FlaskClient, make: Factories
    ) -> None:
        italian = make.user(society=make.society("IT"), email="twice@example.org")
        make.user(society=make.society("DE"), email="twice@example.org", password="another long password")

        def token_for(society: str | None, password: str = DEFAULT_PASSWORD):  # type: ignore[no-untyped-def]
            body = {"email": "twice@example.org", "password": password}
            return client.post("/api/v1/auth/token", json=body | ({"society": society} if society else {}))

        unnamed = token_for(None)
        wrong_society = token_for("DE")
        unknown_email = login(client, "nobody@example.org", DEFAULT_PASSWORD)
        named = token_for("it")

        # Without its society such an email names no account: the same 401 as any failed login.
        assert unnamed.status_code == wrong_society.status_code == unknown_email.status_code == 401
        assert unnamed.json == wrong_society.json == unknown_email.json
        assert named.status_code == 201
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {named.json['token']}"})
        assert me.json["id"] == str(italian.id)
        assert token_for("DE", "another long password").status_code == 201

    def test_inactive_user_cannot_log_in(self, client: FlaskClient, make: Factories) -> None:
        make.user(email="gone@example.org", active=False)

        assert login(client, "gone@example.org").status_code == 401

    def test_failures_are_slowed_then_refused_for_fifteen_minutes(
        self, client: FlaskClient, make: Factories, clock: FakeClock, sleeps: list[float]
    ) -> None:
        make.user(email="target@example.org")
        for _ in range(5):
            assert login(client, "target@example.org", "wrong password!").status_code == 401
        assert sleeps == sorted(sleeps)
        assert sleeps[-1] > sleeps[0]

        refused = login(client, "target@example.org")  # even the right password is refused now

        assert refused.status_code == 429
        assert refused.mimetype == PROBLEM
        assert int(refused.headers["Retry-After"]) == 15 * 60
        clock.advance(timedelta(minutes=15, seconds=1))
        assert login(client, "target@example.org").status_code == 201

    def test_lockout_does_not_reveal_whether_the_email_exists(
        self, client: FlaskClient, make: Factories
    ) -> None:
        make.user(email="exists@example.org")
        for email in ("exists@example.org", "ghost@example.org"):
            for _ in range(5):
                login(client, email, "wrong password!", ip=f"203.0.113.{len(email)}")

        exists = login(client, "exists@example.org", ip="192.0.2.1")
        ghost = login(client, "ghost@example.org", ip="192.0.2.1")

        assert exists.status_code == ghost.status_code == 429
        assert exists.json == ghost.json

    def test_twenty_failures_from_one_address_lock_that_address(
        self, client: FlaskClient, make: Factories
    ) -> None:
        make.user(email="victim@example.org")
        for number in range(20):
            login(client, f"guess{number}@example.org", "wrong password!", ip="203.0.113.9")

        assert login(client, "victim@example.org", ip="203.0.113.9").status_code == 429
        assert login(client, "victim@example.org", ip="203.0.113.10").status_code == 201

    def test_malformed_login_body_is_a_422_naming_the_fields(self, client: FlaskClient) -> None:
        response = client.post("/api/v1/auth/token", json={"email": "", "extra": 1})

        assert response.status_code == 422
        assert set(response.json["errors"]) == {"email", "password", "extra"}


class TestTokens:
    def test_missing_invalid_expired_and_revoked_tokens_answer_401(
        self, client: FlaskClient, make: Factories, clock: FakeClock
    ) -> None:
        user = make.user()
        expiring = make.token(user, ttl=timedelta(minutes=5))
        revoked = make.token(user)
        assert (
            client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {revoked}"}).status_code
            == 204
        )
        clock.advance(timedelta(minutes=6))

        for headers in (
            {},
            {"Authorization": "Bearer rfl_forged"},
            {"Authorization": f"Bearer {expiring}"},
            {"Authorization": f"Bearer {revoked}"},
            {"Authorization": "Basic abc"},
        ):
            response = client.get("/api/v1/me", headers=headers)
            assert response.status_code == 401
            assert response.mimetype == PROBLEM
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


class TestUserManagement:
    def test_admin_creates_a_user_in_their_own_society(self, client: FlaskClient, make: Factories) -> None:
        society = make.society("IT")
        headers = make.actor_headers(Role.ADMIN, society)

        response = client.post(
            "/api/v1/users",
            headers=headers,
            json={
                "email": "new@example.org",
                "name": "New",
                "role": "caseworker",
                "password": "a long password!",
            },
        )

        assert response.status_code == 201
        assert response.json["society"] == "IT"
        assert "password" not in response.json
        assert login(client, "new@example.org", "a long password!").status_code == 201

    def test_admin_cannot_create_a_user_in_another_society(
        self, client: FlaskClient, make: Factories
    ) -> None:
        make.society("DE", country="DE")
        headers = make.actor_headers(Role.ADMIN, make.society("IT"))
        before = user_count(make)

        response = client.post(
            "/api/v1/users",
            headers=headers,
            json={
                "email": "x@example.org",
                "name": "X",
                "role": "admin",
                "password": "a long password!",
                "society": "DE",
            },
        )

        assert response.status_code == 403
        assert response.mimetype == PROBLEM
        assert user_count(make) == before

    def test_caseworker_calling_an_admin_endpoint_gets_403(
        self, client: FlaskClient, make: Factories
    ) -> None:
        before = user_count(make)
        response = client.post(
            "/api/v1/users",
            headers=make.actor_headers(Role.CASEWORKER),
            json={"email": "x@example.org", "name": "X", "role": "admin", "password": "a long password!"},
        )

        assert response.status_code == 403
        assert user_count(make) == before + 1  # only the caseworker the factory made

    def test_invalid_user_fields_give_422_per_field_and_store_nothing(
        self, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.ADMIN)
        before = user_count(make)

        response = client.post(
            "/api/v1/users",
            headers=headers,
            json={"email": "not-an-email", "name": "", "role": "boss", "password": "x"},
        )
        short_password = client.post(
            "/api/v1/users",
            headers=headers,
            json={"email": "ok@example.org", "name": "N", "role": "admin", "password": "short"},
        )

        assert response.status_code == 422
        assert {"email", "name", "role"} <= set(response.json["errors"])
        assert short_password.status_code == 422
        assert set(short_password.json["errors"]) == {"password"}
        assert user_count(make) == before

    def test_duplicate_email_in_the_own_society_is_a_409(self, client: FlaskClient, make: Factories) -> None:
        society = make.society()
        make.user(society=society, email="dup@example.org")
        response = client.post(
            "/api/v1/users",
            headers=make.actor_headers(Role.ADMIN, society),
            json={"email": "DUP@example.org", "name": "N", "role": "auditor", "password": "a long password!"},
        )

        assert response.status_code == 409

    def test_an_email_used_in_another_society_answers_as_a_new_one(
        self, client: FlaskClient, make: Factories
    ) -> None:
        """Issue 9.10: emails are unique per society, so creating a user never reveals whether another
        society has one with that email; the answer is the 201 a new email gets."""
        make.user(society=make.society("IT"), email="shared@example.org")
        headers = make.actor_headers(Role.ADMIN, make.society("DE"))
        body = {"name": "N", "role": "auditor", "password": "a long password!"}

        taken_elsewhere = client.post(
            "/api/v1/users", headers=headers, json=body | {"email": "Shared@example.org"}
        )
        new = client.post("/api/v1/users", headers=headers, json=body | {"email": "fresh@example.org"})

        assert taken_elsewhere.status_code == new.status_code == 201
        assert set(taken_elsewhere.json) == set(new.json)
        assert taken_elsewhere.json["society"] == "DE"

    def test_users_of_another_society_answer_404(self, client: FlaskClient, make: Factories) -> None:
        other = make.user(society=make.society())
        headers = make.actor_headers(Role.ADMIN, make.society())

        response = client.get(f"/api/v1/users/{other.id}", headers=headers)
        missing = client.get("/api/v1/users/00000000-0000-0000-0000-000000000000", headers=headers)

        assert response.status_code == missing.status_code == 404
        assert response.json == missing.json

    def test_reaching_another_societys_user_is_audited_like_an_unknown_id(
        self, app: Flask, client: FlaskClient, make: Factories
    ) -> None:
        other_society = make.society()
        other = make.user(society=other_society)
        admin = make.user(Role.ADMIN, society=make.society())
        unknown = "00000000-0000-0000-0000-000000000000"

        client.get(f"/api/v1/users/{other.id}", headers=make.auth(admin))
        client.get(f"/api/v1/users/{unknown}", headers=make.auth(admin))

        with app.app_context():
            denied = db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "user.read").order_by(AuditEvent.seq)
            ).all()
        assert [(e.outcome, e.object_id) for e in denied] == [("denied", str(other.id)), ("denied", unknown)]
        # The society whose user was looked for sees the attempt; an unknown id stays with the admin's.
        assert denied[0].owner_society_id == other_society.id
        assert denied[1].owner_society_id is None

    def test_list_users_pages_with_a_cursor(self, client: FlaskClient, make: Factories) -> None:
        society = make.society()
        headers = make.actor_headers(Role.ADMIN, society)
        for _ in range(4):
            make.user(society=society)
        make.user(society=make.society())  # another society's user never appears

        first = client.get("/api/v1/users?limit=3", headers=headers)
        second = client.get(f"/api/v1/users?limit=3&cursor={first.json['next_cursor']}", headers=headers)

        assert len(first.json["items"]) == 3
        assert len(second.json["items"]) == 2
        assert second.json["next_cursor"] is None
        ids = [item["id"] for item in first.json["items"] + second.json["items"]]
        assert len(set(ids)) == 5
        assert client.get("/api/v1/users?limit=201", headers=headers).status_code == 422
        assert client.get("/api/v1/users?cursor=garbage", headers=headers).status_code == 422


class TestUserPatch:
    def test_patch_requires_if_match_and_refuses_stale_etags(
        self, client: FlaskClient, make: Factories
    ) -> None:
        society = make.society()
        headers = make.actor_headers(Role.ADMIN, society)
        user = make.user(society=society)
        url = f"/api/v1/users/{user.id}"
        etag = client.get(url, headers=headers).headers["ETag"]
        patch_type = {"Content-Type": "application/merge-patch+json"}

        without = client.patch(url, headers=headers | patch_type, data='{"role": "auditor"}')
        changed = client.patch(
            url, headers=headers | patch_type | {"If-Match": etag}, data='{"role": "auditor"}'
        )
        stale = client.patch(url, headers=headers | patch_type | {"If-Match": etag}, data='{"name": "Late"}')

        assert without.status_code == 428
        assert changed.status_code == 200
        assert changed.json["role"] == "auditor"
        assert changed.headers["ETag"] != etag
        assert stale.status_code == 412
        assert client.get(url, headers=headers).json["name"] == "Test User"

    def test_patch_validates_the_patched_result(self, client: FlaskClient, make: Factories) -> None:
        society = make.society()
        headers = make.actor_headers(Role.ADMIN, society)
        user = make.user(society=society)
        url = f"/api/v1/users/{user.id}"
        etag = client.get(url, headers=headers).headers["ETag"]
        patch_headers = headers | {"Content-Type": "application/merge-patch+json", "If-Match": etag}

        removed_name = client.patch(url, headers=patch_headers, data='{"name": null}')
        bad_role = client.patch(url, headers=patch_headers, data='{"role": "boss", "email": "x@y.z"}')

        assert removed_name.status_code == 422
        assert set(removed_name.json["errors"]) == {"name"}
        assert bad_role.status_code == 422
        assert set(bad_role.json["errors"]) == {"role", "email"}
        assert client.get(url, headers=headers).headers["ETag"] == etag

    def test_deactivating_a_user_ends_their_sessions(self, client: FlaskClient, make: Factories) -> None:
        society = make.society()
        headers = make.actor_headers(Role.ADMIN, society)
        user = make.user(society=society)
        user_headers = make.auth(user)
        url = f"/api/v1/users/{user.id}"
        etag = client.get(url, headers=headers).headers["ETag"]

        response = client.patch(
            url,
            headers=headers | {"Content-Type": "application/merge-patch+json", "If-Match": etag},
            data='{"active": false}',
        )

        assert response.status_code == 200
        assert client.get("/api/v1/me", headers=user_headers).status_code == 401

    def test_admin_cannot_demote_themself(self, client: FlaskClient, make: Factories) -> None:
        admin = make.user(Role.ADMIN)
        headers = make.auth(admin)
        url = f"/api/v1/users/{admin.id}"
        etag = client.get(url, headers=headers).headers["ETag"]

        response = client.patch(
            url,
            headers=headers | {"Content-Type": "application/merge-patch+json", "If-Match": etag},
            data='{"role": "caseworker"}',
        )

        assert response.status_code == 409


class TestIdempotency:
    def body(self, email: str = "idem@example.org") -> dict[str, str]:
        return {"email": email, "name": "I", "role": "caseworker", "password": "a long password!"}

    def test_same_key_returns_the_first_result_without_a_duplicate(
        self, client: FlaskClient, make: Factories
    ) -> None:
        headers = make.actor_headers(Role.ADMIN) | {"Idempotency-Key": "retry-123"}

        first = client.post("/api/v1/users", headers=headers, json=self.body())
        second = client.post("/api/v1/users", headers=headers, json=self.body())

        assert first.status_code == second.status_code == 201
        assert first.json == second.json
        assert make.scalar(sa.select(sa.func.count()).where(User.email == "idem@example.org")) == 1

    def test_same_key_with_a_different_body_is_refused(self, client: FlaskClient, make: Factories) -> None:
        headers = make.actor_headers(Role.ADMIN) | {"Idempotency-Key": "retry-456"}
        client.post("/api/v1/users", headers=headers, json=self.body())

        response = client.post("/api/v1/users", headers=headers, json=self.body("other@example.org"))

        assert response.status_code == 422
        assert "Idempotency-Key" in response.json["errors"]
        assert make.scalar(sa.select(sa.func.count()).where(User.email == "other@example.org")) == 0

    def test_keys_expire_after_24_hours(self, client: FlaskClient, make: Factories, clock: FakeClock) -> None:
        admin = make.user(Role.ADMIN)
        key = {"Idempotency-Key": "retry-789"}
        client.post("/api/v1/users", headers=make.auth(admin) | key, json=self.body())
        clock.advance(timedelta(hours=24, seconds=1))

        again = client.post("/api/v1/users", headers=make.auth(admin) | key, json=self.body())

        assert again.status_code == 409  # a new attempt, refused as a duplicate email, not a replay
