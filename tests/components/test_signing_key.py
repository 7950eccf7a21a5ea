"""The signing key's generations, built alone (components/identity.py ``SigningKey``); the stack's wiring of them
into auth is asserted in tests/stacks/test_signing_key_rotation.py."""

from __future__ import annotations

from pathlib import Path

import pulumi

from components.identity import SigningKey, SigningKeyArgs, SigningKeyConfig
from tests.components.offline_program import run_offline

KEY = "tls:index/privateKey:PrivateKey"
SECRET = "gcp:secretmanager/secret:Secret"
MEMBER = "serviceAccount:issuer@acme-grid-test.iam.gserviceaccount.com"


def _build(tmp_path: Path, **config: object):
    def build() -> None:
        key = SigningKey(
            "acme-jwt",
            SigningKeyArgs(secret_id="acme-jwt", readers={"issuer": MEMBER}, config=SigningKeyConfig(**config)),
        )
        pulumi.export("previous", key.previous_public_key_pems)
        pulumi.export("current", key.public_key_pem)

    tmp_path.mkdir(parents=True, exist_ok=True)
    return run_offline(build, tmp_path)


def _keys_and_secrets(run) -> tuple[list[str], list[str]]:
    return sorted(r.name for r in run.of_type(KEY)), sorted(r.inputs["secretId"] for r in run.of_type(SECRET))


def test_the_first_generation_keeps_the_names_it_had_before_rotation(tmp_path: Path) -> None:
    run = _build(tmp_path)
    assert _keys_and_secrets(run) == (["acme-jwt-key"], ["acme-jwt"])
    assert run.outputs["previous"] == []


def test_a_rotation_keeps_the_previous_generation_until_it_is_finished(tmp_path: Path) -> None:
    rotating = _build(tmp_path / "rotating", generation=3)
    # Generation 3 signs; 2 is kept and published; 1 (from two rotations ago) is gone.
    assert _keys_and_secrets(rotating) == (["acme-jwt-key-g2", "acme-jwt-key-g3"], ["acme-jwt-g2", "acme-jwt-g3"])
    [previous] = rotating.outputs["previous"]
    g2 = next(r for r in rotating.of_type(KEY) if r.name == "acme-jwt-key-g2")
    assert previous == g2.outputs["publicKeyPem"] != rotating.outputs["current"]

    finished = _build(tmp_path / "finished", generation=3, publishPrevious=False)
    assert _keys_and_secrets(finished) == (["acme-jwt-key-g3"], ["acme-jwt-g3"])
    assert finished.outputs["previous"] == []
