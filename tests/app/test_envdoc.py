from __future__ import annotations

from pathlib import Path

from app.envdoc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "app-services-env.md"


def test_the_env_var_document_matches_the_settings_classes():
    assert DOC.read_text() == render(), "regenerate with: python -m app.envdoc > docs/app-services-env.md"
