from __future__ import annotations

import json
import logging

from app.common.logging import CloudLoggingFormatter, RequestContext, request_context


def _format(record_kwargs: dict, project: str | None = "my-proj", **extra) -> dict:
    record = logging.makeLogRecord(
        {"name": "t", "levelno": logging.WARNING, "msg": "hello %s", "args": ("x",), **record_kwargs}
    )
    for k, v in extra.items():
        setattr(record, k, v)
    return json.loads(CloudLoggingFormatter(project).format(record))


def test_cloud_logging_fields_and_trace_correlation():
    token = request_context.set(RequestContext("req-1", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True))
    try:
        entry = _format({})
    finally:
        request_context.reset(token)
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "hello x"
    assert entry["request_id"] == "req-1"
    assert entry["logging.googleapis.com/labels"] == {"request_id": "req-1"}
    assert entry["logging.googleapis.com/trace"] == "projects/my-proj/traces/0af7651916cd43dd8448eb211c80319c"
    assert entry["logging.googleapis.com/spanId"] == "b7ad6b7169203331"
    assert entry["logging.googleapis.com/trace_sampled"] is True
    assert "logging.googleapis.com/sourceLocation" in entry


def test_secrets_in_extra_fields_are_redacted():
    entry = _format({}, password="hunter2", payload={"refresh_token": "abc", "ok": 1}, Authorization="Bearer x")
    assert entry["password"] == "[redacted]"
    assert entry["payload"] == {"refresh_token": "[redacted]", "ok": 1}
    assert "hunter2" not in json.dumps(entry) and "Bearer x" not in json.dumps(entry)


def test_exceptions_go_into_the_message_for_error_reporting():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        entry = _format({"levelno": logging.ERROR, "exc_info": sys.exc_info()})
    assert entry["severity"] == "ERROR"
    assert "Traceback" in entry["message"] and "ValueError: boom" in entry["message"]


def test_trace_headers_are_parsed(auth):
    # End to end through the middleware: the response carries the request id the logs use.
    r = auth.get(
        "/health", headers={"X-Cloud-Trace-Context": "0af7651916cd43dd8448eb211c80319c/123;o=1", "X-Request-ID": "r-9"}
    )
    assert r.headers["x-request-id"] == "r-9"
