"""ml-analytics through functions-framework's Flask app, against the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from functions_framework import create_app

from app.common.migrations import apply_migrations

SOURCE = Path(__file__).resolve().parents[3] / "app" / "functions" / "ml_analytics" / "main.py"
FN = "/fn/ml-analytics"


@pytest.fixture(scope="module")
def client(postgres, monkeypatch_module):
    asyncio.run(apply_migrations(postgres.url))
    monkeypatch_module.setenv("DATABASE_URL", postgres.url)
    app = create_app(target="ml_analytics", source=str(SOURCE))
    yield app.test_client()
    for module in [m for m in sys.modules.values() if getattr(m, "__file__", None) == str(SOURCE)]:
        if getattr(module, "_pool", None) is not None:
            module._pool.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


# -- anomalies -----------------------------------------------------------------------------------------------


def _series(values) -> list[dict]:
    return [{"t": i, "value": float(v)} for i, v in enumerate(values)]


def test_finds_known_spikes_in_noise(client):
    rng = np.random.default_rng(7)
    values = rng.normal(100, 5, 500)
    spikes = {50: 160.0, 222: 20.0, 400: 175.0}
    for i, v in spikes.items():
        values[i] = v
    r = client.post(f"{FN}/anomalies", json={"series": _series(values)})
    assert r.status_code == 200
    found = {a["t"]: a for a in r.get_json()["anomalies"]}
    assert set(found) == set(spikes)
    assert found[222]["score"] < -3.5 < 3.5 < found[50]["score"]


def test_robust_to_the_outliers_themselves(client):
    # Ten large spikes would inflate a standard deviation enough to hide themselves; median/MAD does not move.
    values = [10.0 + (i % 3) for i in range(100)]
    for i in range(0, 100, 10):
        values[i] = 1000.0
    found = client.post(f"{FN}/anomalies", json={"series": _series(values)}).get_json()["anomalies"]
    assert [a["t"] for a in found] == list(range(0, 100, 10))
    mean, sd = np.mean(values), np.std(values)
    assert all(abs(v - mean) / sd < 3.5 for v in values), "a mean/sd z-score would have missed them"


def test_rolling_window_follows_a_trend(client):
    # A steady ramp has no anomaly against its neighbours; a global score would flag both ends.
    values = [float(i) + (i % 2) * 0.5 for i in range(300)]
    values[150] += 40
    r = client.post(f"{FN}/anomalies", json={"series": _series(values), "window": 21})
    assert [a["t"] for a in r.get_json()["anomalies"]] == [150]


def test_rolling_scores_equal_each_points_own_window(client):
    module = next(m for m in sys.modules.values() if getattr(m, "__file__", None) == str(SOURCE))
    rng = np.random.default_rng(3)
    values = np.round(rng.normal(50, 10, 200))  # rounded: some windows have MAD 0
    values[:30] = 7.0
    window, half = 21, 10
    expected = []
    for i in range(values.size):  # the definition, one window at a time
        lo = max(0, min(i - half, values.size - window))
        expected.append(module.robust_scores(values[lo : lo + window])[i - lo])
    assert np.allclose(module.rolling_scores(values, window), expected)


def test_flat_series_and_mostly_equal_values(client):
    assert client.post(f"{FN}/anomalies", json={"series": _series([5] * 50)}).get_json() == {"anomalies": []}
    values = [5.0] * 50
    values[10] = 9.0
    found = client.post(f"{FN}/anomalies", json={"series": _series(values)}).get_json()["anomalies"]
    assert [a["t"] for a in found] == [10]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"series": []},
        {"series": [{"value": 1}]},
        {"series": [{"t": 1, "value": "x"}]},
        {"series": [{"t": 1, "value": True}]},
        {"series": [{"t": 1, "value": 1}], "threshold": -1},
        {"series": [{"t": 1, "value": 1}], "window": 2},
    ],
)
def test_invalid_series_is_422(client, body):
    r = client.post(f"{FN}/anomalies", json=body)
    assert r.status_code == 422 and set(r.get_json()) == {"detail"}


def test_limits(client):
    r = client.post(f"{FN}/anomalies", json={"series": [{"t": i, "value": 1} for i in range(10_001)]})
    assert r.status_code == 413 and "10000" in r.get_json()["detail"]
    r = client.post(f"{FN}/anomalies", json={"series": _series(range(2000)), "window": 366})
    assert r.status_code == 413 and "window" in r.get_json()["detail"]
    assert client.post(f"{FN}/anomalies", data=b"[1", content_type="application/json").status_code == 422
    assert client.post(f"{FN}/unknown", json={}).status_code == 404
    assert client.get(f"{FN}/anomalies").status_code == 405


def _deep(depth: int) -> bytes:
    return b'{"series": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"series": [{"t": 1, "value": ' + b"1" + b"0" * 400 + b"}]}",  # 10**400: an int with no float
        b'{"series": [{"t": 1e400, "value": 1}]}',  # parses to inf, which could not be echoed back as JSON
        b'{"series": [{"t": NaN, "value": 1}]}',
        b'{"series": [{"t": 1, "value": 1}], "threshold": ' + b"9" * 400 + b"}",
        _deep(100_000),
    ],
    ids=["huge-int-value", "inf-t", "nan-t", "huge-threshold", "deep-nesting"],
)
def test_hostile_numbers_and_nesting_are_422(client, raw):
    r = client.post(f"{FN}/anomalies", data=raw, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert set(r.get_json()) == {"detail"}


@pytest.mark.parametrize(
    "values",
    [
        [-1.7e308, 1.7e308, 0.0, 1.0, 2.0],  # differences overflow a double
        [0.0] * 6 + [5e-324, 1e-323, 1.0],  # a subnormal spread: ratios overflow
        [1e308] * 10 + [-1e308],
    ],
    ids=["overflowing-differences", "subnormal-spread", "extremes"],
)
def test_degenerate_series_never_put_infinity_or_nan_in_the_response(client, values):
    r = client.post(f"{FN}/anomalies", json={"series": _series(values), "threshold": 0.1})
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "Infinity" not in text and "NaN" not in text
    scores = [a["score"] for a in json.loads(text)["anomalies"]]
    assert scores and all(np.isfinite(scores))


# -- events and the daily report -------------------------------------------------------------------------------


def _push(event_type: str, payload: dict, event_id: str | None = None) -> dict:
    """A Pub/Sub push envelope as the subscription delivers it."""
    return {
        "message": {
            "data": base64.b64encode(json.dumps(payload).encode()).decode(),
            "attributes": {"type": event_type, "id": event_id or str(uuid.uuid4()), "time": "2026-01-01T00:00:00"},
            "messageId": "1",
            "publishTime": datetime.now(UTC).isoformat(),
        },
        "subscription": "projects/p/subscriptions/ml-analytics",
    }


def _message_event(user_id: str, day: date, content: str = "hello") -> dict:
    created = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).isoformat()
    return {
        "message": {"id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4()), "content": content,
                    "role": "user", "created_at": created},
        "user_id": user_id,
        "agent_id": str(uuid.uuid4()),
    }  # fmt: skip


def _usage(postgres, user_id: str) -> dict:
    with psycopg.connect(postgres.url) as conn:
        rows = conn.execute("SELECT day, messages, chars FROM usage_daily WHERE user_id = %s", (user_id,)).fetchall()
    return {d: (m, c) for d, m, c in rows}


def test_events_are_counted_once_per_message(client, postgres):
    user = str(uuid.uuid4())
    day = date(2026, 3, 1)
    event = _message_event(user, day, "twelve chars")
    for _ in range(3):  # at-least-once delivery: redeliveries must not count again
        r = client.post(f"{FN}/events", json=_push("message.created", event))
        assert r.status_code == 200
    assert r.get_json() == {"status": "duplicate"}
    client.post(f"{FN}/events", json=_push("message.created", _message_event(user, day, "abc")))
    assert _usage(postgres, user) == {day: (2, 15)}


def test_other_and_malformed_events_are_acknowledged(client):
    assert client.post(f"{FN}/events", json=_push("agent.deleted", {})).get_json() == {"status": "ignored"}
    bad = _push("message.created", {})
    bad["message"]["data"] = "!!not base64!!"
    r = client.post(f"{FN}/events", json=bad)
    assert r.status_code == 200 and r.get_json() == {"status": "malformed"}
    assert client.post(f"{FN}/events", json={"nope": 1}).status_code == 422


def test_malformed_envelopes_and_payloads_are_client_errors_or_dropped(client):
    r = client.post(f"{FN}/events", json={"message": {"attributes": ["message.created"], "data": ""}})
    assert r.status_code == 422 and "attributes" in r.get_json()["detail"]
    user = str(uuid.uuid4())
    for payload in (
        {"message": "not an object", "user_id": user},
        {"message": {"id": str(uuid.uuid4()), "content": 5}, "user_id": user},
        {"message": {"id": str(uuid.uuid4()), "created_at": "0001-01-01T00:00:00+14:00"}, "user_id": user},
        [1, 2],
    ):
        r = client.post(f"{FN}/events", json=_push("message.created", payload))
        assert r.status_code == 200 and r.get_json() == {"status": "malformed"}, (payload, r.get_data(as_text=True))
    deep = _push("message.created", {})
    deep["message"]["data"] = base64.b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    assert client.post(f"{FN}/events", json=deep).get_json() == {"status": "malformed"}


def test_report_days_whose_history_precedes_year_1_are_422(client):
    for day in ("0001-01-01", "0001-01-28"):
        r = client.post(f"{FN}/report", json={"day": day})
        assert r.status_code == 422 and "0001-01-29" in r.get_json()["detail"]


def test_daily_report_flags_a_burst_against_the_users_own_history(client, postgres):
    steady, bursty = str(uuid.uuid4()), str(uuid.uuid4())
    today = date(2026, 4, 30)
    with psycopg.connect(postgres.url) as conn:
        for i in range(1, 29):
            d = today - timedelta(days=i)
            conn.execute(
                "INSERT INTO usage_daily (user_id, day, messages) VALUES (%s, %s, %s)", (steady, d, 40 + i % 5)
            )
            conn.execute(
                "INSERT INTO usage_daily (user_id, day, messages) VALUES (%s, %s, %s)", (bursty, d, 10 + i % 3)
            )
        conn.execute("INSERT INTO usage_daily (user_id, day, messages) VALUES (%s, %s, 44)", (steady, today))
        conn.execute("INSERT INTO usage_daily (user_id, day, messages) VALUES (%s, %s, 300)", (bursty, today))
    r = client.post(f"{FN}/report", json={"day": today.isoformat()})
    assert r.status_code == 200
    flagged = r.get_json()["flagged"]
    assert [f["user_id"] for f in flagged] == [bursty]
    assert flagged[0]["messages"] == 300 and flagged[0]["baseline"] == 11.0
    # Rerunning the report (Scheduler retries) keeps one row per user and day.
    client.post(f"{FN}/report", json={"day": today.isoformat()})
    with psycopg.connect(postgres.url) as conn:
        rows = conn.execute("SELECT user_id::text FROM usage_anomalies WHERE day = %s", (today,)).fetchall()
    assert rows == [(bursty,)]
    assert client.post(f"{FN}/report", json={"day": "yesterday"}).status_code == 422
    assert client.post(f"{FN}/report").status_code == 200  # Scheduler's default: yesterday


def test_database_outage_is_503_for_retry(client, monkeypatch):
    import psycopg_pool

    module = next(m for m in sys.modules.values() if getattr(m, "__file__", None) == str(SOURCE))

    def down():
        raise psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec")

    monkeypatch.setattr(module, "pool", down)
    r = client.post(f"{FN}/events", json=_push("message.created", _message_event(str(uuid.uuid4()), date.today())))
    assert r.status_code == 503 and r.get_json() == {"detail": "temporarily unavailable"}
