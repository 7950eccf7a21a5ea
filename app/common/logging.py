"""JSON logs in Google Cloud Logging's structured format, correlated by trace and request id.

Cloud Logging reads `severity`, `message`, `logging.googleapis.com/trace`, `.../spanId` and `.../labels` from a
JSON line on stdout, so no client library or network call is needed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    trace_id: str | None = None
    span_id: str | None = None
    sampled: bool = False


request_context: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
# Field names whose values must never reach a log line, whatever code passed them in.
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|authorization|cookie|signing_key|api_key", re.IGNORECASE)
_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[redacted]" if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class CloudLoggingFormatter(logging.Formatter):
    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": record.lineno,
                "function": record.funcName,
            },
        }
        if record.exc_info:
            # Error Reporting picks up stack traces that are part of the message text.
            entry["message"] += "\n" + "".join(traceback.format_exception(*record.exc_info))
        ctx = request_context.get()
        if ctx is not None:
            entry["request_id"] = ctx.request_id
            entry["logging.googleapis.com/labels"] = {"request_id": ctx.request_id}
            if ctx.trace_id:
                entry["logging.googleapis.com/trace"] = (
                    f"projects/{self.project}/traces/{ctx.trace_id}" if self.project else ctx.trace_id
                )
                entry["logging.googleapis.com/trace_sampled"] = ctx.sampled
            if ctx.span_id:
                entry["logging.googleapis.com/spanId"] = ctx.span_id
        extra = {k: v for k, v in vars(record).items() if k not in _STD_ATTRS and not k.startswith("_")}
        entry.update(redact(extra))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", project: str | None = None) -> None:
    """Route every logger (ours, uvicorn's, libraries') through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter(project))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # uvicorn's own access log is plain text and logs query strings (which may hold tokens): ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True


def configure_hosted_logging() -> None:
    """For code whose process someone else starts (functions-framework on Cloud Functions): log like the services,
    with LOG_LEVEL and GOOGLE_CLOUD_PROJECT from the environment, unless the host configured logging already
    (`grid local`, a test runner), whose choice stands."""
    if not logging.getLogger().handlers:
        configure_logging(os.environ.get("LOG_LEVEL", "INFO"), os.environ.get("GOOGLE_CLOUD_PROJECT"))
