"""ml-analytics: usage analytics as a Cloud Function (gen2, functions-framework, entry `ml_analytics`).

Routes (with or without the load balancer's /fn/ml-analytics prefix):

- `POST /anomalies {"series": [{"t", "value"}], "threshold"?, "window"?}` -> `{"anomalies": [{t, value, score}]}`.
- `POST /events`: Pub/Sub push of `message.created` (the envelope `{"message": {"data": base64, "attributes"},
  "subscription"}`). Adds the message to its user's daily usage in Postgres, exactly once per message id: the
  subscription delivers at least once, so a redelivery must not count twice.
- `POST /report {"day"?: "YYYY-MM-DD"}` (Cloud Scheduler, daily): flags users whose usage on `day` (default:
  yesterday, UTC) is anomalous against their own previous 28 days, and records the flags.

Anomaly method: the robust z-score of Iglewicz and Hoaglin, z = 0.6745 (x - median) / MAD, where MAD is the
median absolute deviation from the median; |z| > 3.5 is an outlier. Median and MAD are barely moved by the
outliers themselves (breakdown point 50 %), unlike mean and standard deviation, which a single large spike
inflates enough to hide itself. When more than half the points are equal MAD is 0; then the mean absolute
deviation, scaled by 1.2533 to estimate sigma the same way, takes its place, and a perfectly flat series has no
anomalies. With `window`, each point is scored against the points in a centred window of that many points, which
follows slow trends and seasonality instead of flagging them.

Only platform identities invoke it: the function grants roles/run.invoker to the invoker service account alone
(no allUsers), whose OIDC tokens Pub/Sub push and Cloud Scheduler attach and Cloud Functions verifies before a
request arrives (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions). Inputs are bounded
(MAX_BODY_BYTES, MAX_POINTS, MAX_WINDOW). Errors are JSON with a fixed message per case and never carry exception
text; no response holds NaN or Infinity.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import functions_framework
import numpy as np
from flask import Request, Response

# Deployed with the function's source at these paths (stacks/serving.py FUNCTION_SHARED_FILES).
from app.common.caching import NO_STORE
from app.common.localrate import ClientRate
from app.common.logging import configure_hosted_logging

configure_hosted_logging()
log = logging.getLogger("ml-analytics")

PREFIX = "/fn/ml-analytics"
# /anomalies is public and unauthenticated, so its rate is per client IP (see ClientRate for why per instance);
# /events and /report are the platform's own callers and are not limited here (Pub/Sub retries would only pile up).
ANOMALIES_RATE = ClientRate.from_env("ANOMALIES_REQUESTS_PER_MINUTE", 30)
# Budgets: the rolling score's scratch memory is points x window doubles (a few tens of MB at these limits).
MAX_BODY_BYTES = 1_048_576
MAX_POINTS = 10_000
MAX_WINDOW = 365
# Scores beyond this carry no more information (the threshold is at most 100) and are reported as the cap: a score
# is a ratio to the spread, which can be as small as a subnormal float, so it has no finite bound of its own.
SCORE_CAP = 1e6
DEFAULT_THRESHOLD = 3.5
_MAD_TO_SIGMA = 0.6745  # Phi^-1(0.75): MAD of a normal distribution is 0.6745 sigma
_MEANAD_TO_SIGMA = 0.7979  # sqrt(2/pi): mean absolute deviation of a normal distribution
HISTORY_DAYS = 28
MIN_HISTORY_DAYS = 7
FIRST_REPORT_DAY = date.min + timedelta(days=HISTORY_DAYS)
# A user going from 1 to 4 messages a day is not worth a flag, however improbable.
MIN_FLAGGED_MESSAGES = 20


class BadRequest(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


# -- anomaly detection ---------------------------------------------------------------------------------------


def _scaled(values: np.ndarray) -> np.ndarray:
    """`values` scaled into [-1, 1] (when larger), where no difference can overflow: z-scores are scale-free."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return values / scale if scale > 1 else values.astype(float)


def _scores(values: np.ndarray, median: Any, mad: Any, mean_ad: Any) -> np.ndarray:
    """z = 0.6745 (x - median) / MAD, or with the scaled mean absolute deviation where MAD is 0, or 0 where both
    are (see the module docstring); element-wise, finite and within +-SCORE_CAP."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        scores = np.where(
            mad > 0,
            _MAD_TO_SIGMA * (values - median) / mad,
            np.where(mean_ad > 0, _MEANAD_TO_SIGMA * (values - median) / mean_ad, 0.0),
        )
    return np.clip(np.nan_to_num(scores, nan=0.0, posinf=SCORE_CAP, neginf=-SCORE_CAP), -SCORE_CAP, SCORE_CAP)


def robust_scores(values: np.ndarray) -> np.ndarray:
    """Robust z-scores of `values` against their own median and MAD."""
    if values.size == 0:
        return values.astype(float)
    values = _scaled(values)
    median = np.median(values)
    deviation = np.abs(values - median)
    return _scores(values, median, np.median(deviation), deviation.mean())


def rolling_scores(values: np.ndarray, window: int) -> np.ndarray:
    """Each point's robust z-score within the centred window of `window` points around it (clamped at the ends).

    Vectorised over all windows at once (memory: points x window doubles, bounded by MAX_POINTS x MAX_WINDOW); a
    Python loop over the points took seconds for a full-size request.
    """
    values = _scaled(values)
    n = values.size
    windows = np.lib.stride_tricks.sliding_window_view(values, window)  # row s: values[s : s + window]
    medians = np.median(windows, axis=1)
    deviation = np.abs(windows - medians[:, None])
    mads, mean_ads = np.median(deviation, axis=1), deviation.mean(axis=1)
    start = np.clip(np.arange(n) - window // 2, 0, n - window)  # the window each point is scored in
    return _scores(values, medians[start], mads[start], mean_ads[start])


def find_anomalies(
    series: list[dict[str, Any]], *, threshold: float = DEFAULT_THRESHOLD, window: int | None = None
) -> list[dict[str, Any]]:
    values = np.array([float(p["value"]) for p in series], dtype=float)
    scores = robust_scores(values) if window is None or window >= values.size else rolling_scores(values, window)
    return [
        {"t": p["t"], "value": p["value"], "score": round(float(s), 4)}
        for p, s in zip(series, scores, strict=True)
        if abs(s) > threshold
    ]


def _parse_series(body: dict[str, Any]) -> tuple[list[dict[str, Any]], float, int | None]:
    series = body.get("series")
    if not isinstance(series, list) or not series:
        raise BadRequest(422, "`series` must be a non-empty list of {t, value}")
    if len(series) > MAX_POINTS:
        raise BadRequest(413, f"`series` has more than {MAX_POINTS} points")
    for point in series:
        if not isinstance(point, dict) or "t" not in point:
            raise BadRequest(422, "every point needs `t` and `value`")
        if _finite(point.get("value")) is None:
            raise BadRequest(422, "every `value` must be a finite number within the range of a double")
    threshold = _finite(body.get("threshold", DEFAULT_THRESHOLD))
    if threshold is None or not 0 < threshold <= 100:
        raise BadRequest(422, "`threshold` must be a number in (0, 100]")
    window = body.get("window")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 5):
        raise BadRequest(422, "`window` must be an integer >= 5")
    if window is not None and window > MAX_WINDOW:
        raise BadRequest(413, f"`window` larger than {MAX_WINDOW} points")
    return series, threshold, window


def _finite(value: Any) -> float | None:
    """`value` as a finite float, or None: JSON integers are unbounded (10**400 has no float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


# -- Postgres ------------------------------------------------------------------------------------------------

_pool: Any = None
_pool_lock = threading.Lock()


def pool() -> Any:
    """The instance's connection pool, opened on first use: no database work at import, so cold starts stay short."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                from psycopg_pool import ConnectionPool

                url = os.environ.get("DATABASE_URL")
                if not url:
                    raise BadRequest(503, "analytics storage is not configured")
                _pool = ConnectionPool(
                    url,
                    min_size=0,
                    # Sized by the stack so every workload's pools fit max_connections (stacks/capacity.py).
                    max_size=int(os.environ.get("DB_POOL_MAX_SIZE", "4")),
                    timeout=5.0,
                    check=ConnectionPool.check_connection,
                    kwargs={"connect_timeout": 5},
                    open=True,
                )
    return _pool


class MalformedEvent(ValueError):
    pass


def parse_event(payload: Any, published: datetime) -> tuple[UUID, UUID, date, int]:
    """(message id, user id, UTC day, characters) of a message.created payload, or MalformedEvent."""
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        raise MalformedEvent("no message")
    content = message.get("content") or ""
    created = message.get("created_at")
    if not isinstance(content, str) or not isinstance(created, str | None):
        raise MalformedEvent("content or created_at")
    try:
        message_id = UUID(str(message["id"]))
        user_id = UUID(str(payload["user_id"]))
        when = datetime.fromisoformat(created) if created is not None else published
        day = when.astimezone(UTC).date()  # OverflowError near year 1 or 9999
    except (KeyError, ValueError, OverflowError) as exc:
        raise MalformedEvent(type(exc).__name__) from None
    return message_id, user_id, day, len(content)


def record_message(event_id: str | None, payload: Any, published: datetime) -> bool:
    """Count one message in its user's daily usage; False if it was already counted."""
    message_id, user_id, day, chars = parse_event(payload, published)
    with pool().connection() as conn, conn.transaction():
        cur = conn.execute(
            "INSERT INTO usage_counted_messages (message_id, user_id, day) VALUES (%s, %s, %s)"
            " ON CONFLICT (message_id) DO NOTHING",
            (message_id, user_id, day),
        )
        if cur.rowcount == 0:
            return False
        conn.execute(
            """INSERT INTO usage_daily (user_id, day, messages, chars) VALUES (%s, %s, 1, %s)
               ON CONFLICT (user_id, day)
               DO UPDATE SET messages = usage_daily.messages + 1, chars = usage_daily.chars + EXCLUDED.chars""",
            (user_id, day, chars),
        )
    log.debug("counted message %s (event %s)", message_id, event_id)
    return True


def daily_report(day: date) -> list[dict[str, Any]]:
    """Flag users whose message count on `day` is an outlier against their own previous HISTORY_DAYS days.

    Days without messages count as 0 within the user's active span, so a burst after quiet days stands out.
    """
    start = day - timedelta(days=HISTORY_DAYS)
    with pool().connection() as conn, conn.transaction():
        rows = conn.execute(
            """SELECT user_id, day, messages FROM usage_daily
               WHERE day BETWEEN %s AND %s AND user_id IN (SELECT user_id FROM usage_daily WHERE day = %s)
               ORDER BY user_id, day""",
            (start, day, day),
        ).fetchall()
        by_user: dict[UUID, dict[date, int]] = {}
        for user_id, d, messages in rows:
            by_user.setdefault(user_id, {})[d] = messages
        flagged = []
        for user_id, days in by_user.items():
            first = min(days)
            history = [days.get(first + timedelta(days=i), 0) for i in range((day - first).days)]
            today = days[day]
            if len(history) < MIN_HISTORY_DAYS or today < MIN_FLAGGED_MESSAGES:
                continue
            values = np.array([*history, today], dtype=float)
            score = float(robust_scores(values)[-1])
            if score > DEFAULT_THRESHOLD:
                flagged.append(
                    {
                        "user_id": str(user_id),
                        "messages": today,
                        "baseline": float(np.median(history)),
                        "score": round(score, 4),
                    }
                )
        for f in flagged:
            conn.execute(
                """INSERT INTO usage_anomalies (user_id, day, messages, baseline, score) VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (user_id, day) DO UPDATE
                   SET messages = EXCLUDED.messages, baseline = EXCLUDED.baseline, score = EXCLUDED.score,
                       flagged_at = now()""",
                (f["user_id"], day, f["messages"], f["baseline"], f["score"]),
            )
    return flagged


# -- HTTP ----------------------------------------------------------------------------------------------------


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # allow_nan=False: NaN and Infinity are not JSON; a bug producing one fails here, not in the client's parser.
    # Nothing here is for a shared cache: POSTed computations, platform calls, health (app/common/caching.py).
    headers = {"Cache-Control": NO_STORE, **(headers or {})}
    return Response(json.dumps(body, allow_nan=False), status=status, mimetype="application/json", headers=headers)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400 parses to inf, which no JSON response could carry back
        raise ValueError("number out of range")
    return number


def _body(request: Request) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    if not raw:
        return {}
    try:
        # Python's parser accepts NaN and Infinity, which are not JSON; RecursionError: nesting beyond its stack.
        body = json.loads(raw, parse_constant=_no_constants, parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise BadRequest(422, "body must be JSON, with numbers within the range of a double") from None
    if not isinstance(body, dict):
        raise BadRequest(422, "body must be a JSON object")
    return body


def _anomalies(request: Request) -> Response:
    if (over := ANOMALIES_RATE.spent(request.remote_addr, request.headers.get("X-Forwarded-For"))) is not None:
        raise BadRequest(
            429,
            f"more than {ANOMALIES_RATE.per_minute} anomalies calls a minute from this client; retry later",
            {"Retry-After": str(over.retry_after)},
        )
    series, threshold, window = _parse_series(_body(request))
    return _json({"anomalies": find_anomalies(series, threshold=threshold, window=window)})


def _events(request: Request) -> Response:
    envelope = _body(request)
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise BadRequest(422, "not a Pub/Sub push envelope")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise BadRequest(422, "`message.attributes` must be an object of strings")
    if attributes.get("type") != "message.created":
        # Acknowledge (2xx) what we do not consume, or Pub/Sub would redeliver it forever.
        return _json({"status": "ignored"})
    try:
        payload = json.loads(base64.b64decode(str(message.get("data") or ""), validate=True))
        published = datetime.fromisoformat(str(message.get("publishTime") or attributes.get("time") or ""))
        counted = record_message(attributes.get("id"), payload, published)
    except (binascii.Error, ValueError, RecursionError):  # MalformedEvent is a ValueError
        # A malformed event will never parse; acknowledging it keeps it from blocking the subscription (it is
        # logged for inspection; the dead-letter topic catches what fails for other reasons).
        log.warning("dropping a malformed message.created event")
        return _json({"status": "malformed"})
    return _json({"status": "counted" if counted else "duplicate"})


def _report(request: Request) -> Response:
    body = _body(request)
    raw_day = body.get("day")
    if raw_day is None:
        day = datetime.now(UTC).date() - timedelta(days=1)
    else:
        try:
            day = date.fromisoformat(str(raw_day))
        except ValueError:
            raise BadRequest(422, "`day` must be YYYY-MM-DD") from None
        if day < FIRST_REPORT_DAY:  # its history would start before year 1
            raise BadRequest(422, f"`day` must be {FIRST_REPORT_DAY.isoformat()} or later")
    flagged = daily_report(day)
    if flagged:
        log.warning("usage anomalies on %s: %d user(s)", day, len(flagged))
    else:
        log.info("usage report for %s: no anomalies", day)
    return _json({"day": day.isoformat(), "flagged": flagged})


ROUTES = {"/anomalies": _anomalies, "/events": _events, "/report": _report}


@functions_framework.http
def ml_analytics(request: Request) -> Response:
    path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX + "/") else request.path
    if path in ("/", "/health"):
        return _json({"status": "ok"})
    handler = ROUTES.get(path)
    if handler is None:
        return _json({"detail": "not found"}, 404)
    if request.method != "POST":
        return _json({"detail": "use POST"}, 405, {"Allow": "POST"})
    try:
        return handler(request)
    except BadRequest as exc:
        return _json({"detail": exc.detail}, exc.status, exc.headers)
    except Exception as exc:
        import psycopg
        import psycopg_pool

        if isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
            log.warning("database unavailable: %s", type(exc).__name__)
            # 503 makes Pub/Sub and Scheduler retry later, which is what an outage needs.
            return _json({"detail": "temporarily unavailable"}, 503)
        log.exception("request failed")
        return _json({"detail": "internal error"}, 500)
