"""korean-nlp: Korean morphological analysis as a Cloud Function (gen2, functions-framework, entry `korean_nlp`).

`POST /fn/korean-nlp/analyze {"text": "..."}` answers
`{"tokens": [{form, tag, start, len}], "nouns": [...], "sentences": [...], "keywords": [{word, count}]}`.

The analyser is kiwipiepy, whose model ships inside the `kiwipiepy_model` wheel, so nothing is downloaded at run
time. Loading it takes most of a cold start, so it happens once per instance, at import: Cloud Functions imports
the module before routing the first request, and every later request reuses it. Errors are JSON with a fixed
message per case; exception text never reaches the caller (it can carry paths and library internals).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from typing import Any

import functions_framework
from flask import Request, Response
from flask_cors import cross_origin
from kiwipiepy import Kiwi

# Deployed with the function's source at these paths (stacks/serving.py FUNCTION_SHARED_FILES).
from app.common import cors
from app.common.caching import NO_STORE
from app.common.localrate import ClientRate, Usage
from app.common.logging import configure_hosted_logging

configure_hosted_logging()
log = logging.getLogger("korean-nlp")

# Analysis is roughly linear in the text; these bounds keep one request well under a second on one vCPU.
MAX_BODY_BYTES = 256 * 1024
MAX_TEXT_CHARS = 20_000
MAX_KEYWORDS = 10
NOUN_TAGS = frozenset({"NNG", "NNP"})
PREFIX = "/fn/korean-nlp"
# Unauthenticated, so the rate is per client IP (see ClientRate for why it is counted per instance).
RATE = ClientRate.from_env("ANALYZE_REQUESTS_PER_MINUTE", 60)

# The typo and multi-word dictionaries double the load time and memory for corrections this endpoint does not
# ask for. (bench/coldstart_bench.py times Kiwi alone with these same options, as the part of the cold start that
# is Kiwi's own.)
KIWI_OPTIONS = {"load_typo_dict": False, "load_multi_dict": False}

_kiwi: Kiwi | None = None
_kiwi_lock = threading.Lock()


def analyser() -> Kiwi:
    """The instance's one Kiwi (thread-safe to call; built once even under concurrent first requests)."""
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                started = time.perf_counter()
                kiwi = Kiwi(**KIWI_OPTIONS)
                # Kiwi finishes initialising on its first analysis (about a second): do it now, not in a request.
                kiwi.tokenize("초기화")
                _kiwi = kiwi
                log.info("korean-nlp model loaded in %.1fs", time.perf_counter() - started)
    return _kiwi


def analyze(text: str) -> dict[str, Any]:
    kiwi = analyser()
    tokens = kiwi.tokenize(text)
    nouns = [t.form for t in tokens if t.tag in NOUN_TAGS]
    # Keywords: the most frequent content nouns; one-syllable nouns (것, 수, 때 ...) are mostly grammatical.
    counts = Counter(n for n in nouns if len(n) >= 2)
    return {
        "tokens": [{"form": t.form, "tag": t.tag, "start": t.start, "len": t.len} for t in tokens],
        "nouns": nouns,
        "sentences": [s.text for s in kiwi.split_into_sents(text)],
        "keywords": [{"word": w, "count": c} for w, c in counts.most_common(MAX_KEYWORDS)],
    }


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Answers to POSTed text and health checks: nothing a shared cache should keep (app/common/caching.py).
    headers = {"Cache-Control": NO_STORE, **(headers or {})}
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json", headers=headers)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"detail": detail}, status, headers)


def _rate_limited(usage: Usage) -> Response:
    return _error(
        429,
        f"more than {RATE.per_minute} analyze calls a minute from this client; retry later",
        {"Retry-After": str(usage.retry_after)},
    )


def _route(path: str) -> str:
    # Behind the load balancer the path keeps its /fn/korean-nlp prefix; called on its own URL it has none.
    return path[len(PREFIX) :] if path.startswith(PREFIX + "/") else path


@functions_framework.http
@cross_origin(**cors.flask_cors_options())
def korean_nlp(request: Request) -> Response:
    route = _route(request.path)
    if route in ("/health", "/"):
        return _json({"status": "ok"})
    if route != "/analyze":
        return _error(404, "not found")
    if request.method != "POST":
        return _error(405, "use POST", {"Allow": "POST"})
    if (over := RATE.spent(request.remote_addr, request.headers.get("X-Forwarded-For"))) is not None:
        return _rate_limited(over)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:  # chunked bodies have no Content-Length
        return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        return _error(422, "body must be JSON")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return _error(422, "`text` must be a non-empty string")
    if len(text) > MAX_TEXT_CHARS:
        return _error(413, f"`text` longer than {MAX_TEXT_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # JSON can carry a lone surrogate ("\ud800"), which is no character at all
        return _error(422, "`text` must be valid Unicode (it has an unpaired UTF-16 surrogate)")
    try:
        return _json(analyze(text))
    except Exception:
        log.exception("analysis failed")
        return _error(500, "analysis failed")


# Load the model while the instance starts rather than in the first request.
analyser()
