"""The auth endpoints against real Postgres and Redis."""

from __future__ import annotations

import uuid


def _email() -> str:
    return f"auth-{uuid.uuid4().hex[:12]}@example.com"


PASSWORD = "a-long-unusual-passphrase-42"


def test_register_returns_public_user(auth, forwarded_for):
    email = _email()
    r = auth.post(
        "/auth/register",
        json={"email": email.upper(), "password": PASSWORD, "display_name": " Ann "},
        headers=forwarded_for(),
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "email", "display_name"}
    assert body["email"] == email
    assert body["display_name"] == "Ann"
    uuid.UUID(body["id"])


def test_duplicate_email_is_409_case_insensitively(auth, forwarded_for):
    email = _email()
    payload = {"email": email, "password": PASSWORD, "display_name": "A"}
    assert auth.post("/auth/register", json=payload, headers=forwarded_for()).status_code == 201
    again = {**payload, "email": email.upper()}
    r = auth.post("/auth/register", json=again, headers=forwarded_for())
    assert r.status_code == 409
    assert r.json()["detail"] == "email already registered"


def test_weak_passwords_are_422(auth, forwarded_for):
    for weak in ("short-pw", "password1234", "123456789012", "aaaaaaaaaaaaaaaa"):
        r = auth.post(
            "/auth/register",
            json={"email": _email(), "password": weak, "display_name": "A"},
            headers=forwarded_for(),
        )
        assert r.status_code == 422, weak
        # The password is never echoed back.
        assert weak not in r.text


def test_validation_errors_do_not_echo_input(auth):
    r = auth.post(
        "/auth/register", json={"email": "not-an-email", "password": "s3cret-value-here!", "display_name": ""}
    )
    assert r.status_code == 422
    assert "s3cret-value-here!" not in r.text
    assert "not-an-email" not in r.text


def test_malformed_json_is_422(auth):
    r = auth.post("/auth/login", content=b'{"email": ', headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_login_returns_token_pair(auth, make_user):
    user = make_user()
    r = auth.post("/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 3600
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"] and body["refresh_token"] != user.refresh_token


def test_login_bad_credentials_are_401(auth, make_user, forwarded_for):
    user = make_user()
    ip = forwarded_for()
    wrong = auth.post("/auth/login", json={"email": user.email, "password": "not-the-password-1"}, headers=ip)
    unknown = auth.post("/auth/login", json={"email": _email(), "password": PASSWORD}, headers=ip)
    assert wrong.status_code == unknown.status_code == 401
    # Same answer for a wrong password and an unknown account: no user enumeration.
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_repeated_failures_per_account_are_throttled(auth, make_user, forwarded_for):
    user = make_user()
    statuses = []
    for _ in range(6):
        # A different IP each time: the per-account limit must hold on its own.
        r = auth.post(
            "/auth/login", json={"email": user.email, "password": "wrong-password-xx"}, headers=forwarded_for()
        )
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    # Even the right password is refused while throttled, and the client is told when to come back.
    r = auth.post("/auth/login", json={"email": user.email, "password": user.password}, headers=forwarded_for())
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 900


def test_repeated_failures_per_ip_are_throttled(auth, forwarded_for):
    ip = forwarded_for()
    statuses = [
        auth.post("/auth/login", json={"email": _email(), "password": "whatever-password"}, headers=ip).status_code
        for _ in range(51)
    ]
    assert statuses[:50] == [401] * 50
    assert statuses[50] == 429
    assert (
        auth.post("/auth/login", json={"email": _email(), "password": "x" * 12}, headers=forwarded_for()).status_code
        == 401
    )


def test_refresh_rotates_tokens(auth, make_user):
    user = make_user()
    r = auth.post("/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 200
    pair = r.json()
    assert pair["refresh_token"] != user.refresh_token
    assert auth.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_family(auth, make_user):
    user = make_user()
    second = auth.post("/auth/refresh", json={"refresh_token": user.refresh_token}).json()["refresh_token"]
    reuse = auth.post("/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status_code == 401
    # The legitimate-looking newest token dies with its family: whoever holds it must log in again.
    assert auth.post("/auth/refresh", json={"refresh_token": second}).status_code == 401


def test_unknown_refresh_token_is_401(auth):
    assert auth.post("/auth/refresh", json={"refresh_token": "nope"}).status_code == 401


def test_logout_revokes_refresh_token(auth, make_user):
    user = make_user()
    r = auth.post("/auth/logout", json={"refresh_token": user.refresh_token})
    assert r.status_code == 204
    assert r.content == b""
    assert auth.post("/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 401
    # Logging out twice (or with an unknown token) is harmless.
    assert auth.post("/auth/logout", json={"refresh_token": user.refresh_token}).status_code == 204


def test_me_returns_the_user(auth, make_user):
    user = make_user(display_name="Me Myself")
    r = auth.get("/auth/me", headers=user.headers)
    assert r.status_code == 200
    assert r.json() == {"id": user.id, "email": user.email, "display_name": "Me Myself"}


def test_me_requires_a_token(auth):
    r = auth.get("/auth/me")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_jwks_publishes_public_keys_only(auth):
    r = auth.get("/auth/.well-known/jwks.json")
    assert r.status_code == 200
    (key,) = r.json()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256" and key["use"] == "sig"
    assert key["kid"]
    assert "d" not in key


def test_hostile_display_name_is_stored_verbatim(auth, forwarded_for):
    name = "<script>alert(1)</script>'; DROP TABLE users; --"
    r = auth.post(
        "/auth/register",
        json={"email": _email(), "password": PASSWORD, "display_name": name},
        headers=forwarded_for(),
    )
    assert r.status_code == 201
    assert r.json()["display_name"] == name


def test_oversized_body_is_413(auth):
    r = auth.post(
        "/auth/register",
        content=b'{"email": "' + b"a" * 2_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413


def test_oversized_chunked_body_is_413(auth):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = auth.post("/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_request_id_is_echoed_or_generated(auth):
    assert auth.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = auth.get("/health", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_health_and_ready(auth):
    assert auth.get("/health").json() == {"status": "ok"}
    assert auth.get("/auth/health").json() == {"status": "ok"}
    assert auth.get("/ready").json() == {"status": "ok", "database": "ok", "cache": "ok"}
