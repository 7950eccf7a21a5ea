"""What a service's cold start must not pay for: work done at import that no request needs (issue 13).

Checked in a fresh interpreter, as a container starts: importing every service's app module (which builds their
settings classes and routes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from app.common.redispy import OTEL_SDK_PROBE
from gridlib.workloads import BUNDLED

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVICES = tuple(w.name for w in BUNDLED if w.kind == "service")


@pytest.fixture(scope="module")
def cold_import() -> dict:
    code = (
        "import importlib, json, sys, tokenize\n"
        f"for service in {SERVICES!r}:\n"
        "    importlib.import_module(f'app.{service}.main')\n"
        "out = {'tokenizer_compiled': tokenize._compile.cache_info().currsize,\n"
        f"       'sdk_imported': {OTEL_SDK_PROBE!r} in sys.modules}}\n"
        f"import {OTEL_SDK_PROBE}  # the exporter can still import the real SDK afterwards\n"
        "import redis.observability.providers as providers\n"
        "out['redis_sees_sdk'] = providers.OTEL_AVAILABLE\n"
        "print(json.dumps(out))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(find_spec("opentelemetry.sdk") is None, reason="the OpenTelemetry SDK is not installed")
def test_redis_py_does_not_import_the_opentelemetry_sdk(cold_import: dict) -> None:
    """redis-py try-imports the SDK for its own instrumentation, which Grid never turns on (app/common/redispy.py);
    the SDK stays importable for the metrics exporter."""
    assert cold_import["sdk_imported"] is False
    assert cold_import["redis_sees_sdk"] is False


def test_settings_do_not_parse_builtin_signatures(cold_import: dict) -> None:
    """A builtin default factory (`default_factory=list`) makes pydantic parse its text signature, which compiles
    the tokenizer's regular expressions at every start; no settings field may have one."""
    assert cold_import["tokenizer_compiled"] == 0
