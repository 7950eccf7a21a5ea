"""The torch-free embedder gives the vectors sentence-transformers gives, and fails clearly without its model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.ai.embeddings import DEFAULT_MODEL_DIR, Embedder, ModelMissing

REPO_ROOT = Path(__file__).resolve().parents[3]

# Short and long, English and Korean, mixed scripts and emoji, and a text past the 256-word-piece truncation, in
# one batch, so padding and truncation are both exercised.
TEXTS = [
    "hello",
    "The quick brown fox jumps over the lazy dog.",
    "안녕하세요, 오늘 날씨가 정말 좋네요.",
    "서울에서 부산까지 KTX로 두 시간 반 정도 걸립니다.",
    "Grid deploys Cloud Run services behind an HTTPS load balancer 🚀",
    "데이터베이스 연결이 끊어졌어요 — please retry later",
    " ".join(["tokens"] * 400),
    "x",
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """sentence-transformers on torch: what the service computed before the ONNX runtime."""
    torch = pytest.importorskip("torch")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from app.ai.model_export import source_dir

    torch.set_num_threads(1)
    model = sentence_transformers.SentenceTransformer(str(source_dir()), device="cpu")
    return np.asarray(model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32)


def test_onnx_embeddings_match_sentence_transformers(embedder: Embedder, reference: np.ndarray) -> None:
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    cosines = (vectors * reference).sum(axis=1) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(5).tolist(), strict=True))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_a_text_embeds_the_same_alone_and_in_a_padded_batch(embedder: Embedder) -> None:
    alone = embedder.encode(["안녕하세요"])[0]
    batched = embedder.encode(["안녕하세요", TEXTS[1], TEXTS[6]])[0]
    assert float(alone @ batched) >= 0.99999


def test_missing_model_names_the_build_step(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=r"run `python -m app.ai.model_export .*` \(make does it\)"):
        Embedder(model_dir=tmp_path)


def test_runtime_never_imports_torch() -> None:
    """The service's import path and model load stay torch-free: that is its cold start."""
    code = (
        "import sys; from app.ai.main import create_app; from app.ai.embeddings import Embedder; "
        f"Embedder(1, {str(DEFAULT_MODEL_DIR)!r}).encode(['x']); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'sentence_transformers'));"
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
