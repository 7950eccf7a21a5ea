"""Rotating the access-token signing key by generation (grid:signingKey; docs/runbooks/rotate-secrets.md).

The rotation must never replace what a deployed stack holds (URNs are state): the first generation keeps its
names, a new generation is created beside it, and auth publishes the previous key's public half until the stack
file says the rotation is finished.
"""

from __future__ import annotations

import pytest

from gridlib.config_errors import ConfigError
from tests.conftest import DEV_VARIANT

RUN = "gcp:cloudrunv2/service:Service"
KEY = "tls:index/privateKey:PrivateKey"
SECRET = "gcp:secretmanager/secret:Secret"


def _auth_env(plan) -> dict[str, dict]:
    auth = next(s for s in plan.of_type(RUN) if s.inputs["labels"]["grid-service"] == "auth")
    [container] = auth.inputs["template"]["containers"]
    return {e["name"]: e for e in container.get("envs", [])}


def _signing(plan) -> tuple[set[str], set[str]]:
    keys = {r.urn for r in plan.of_type(KEY) if "jwt-signing-key" in r.name}
    secrets = {r.inputs["secretId"] for r in plan.of_type(SECRET) if "jwt-signing-key" in r.inputs["secretId"]}
    return keys, secrets


def test_a_new_generation_signs_beside_the_kept_first_whose_public_key_auth_still_publishes(synth) -> None:
    shipped = synth("dev")
    first_keys, first_secrets = _signing(shipped)
    assert first_secrets == {"grid-dev-jwt-signing-key"} and len(first_keys) == 1
    assert "JWT_PREVIOUS_PUBLIC_KEYS" not in _auth_env(shipped)

    assert DEV_VARIANT["grid:signingKey"] == {"generation": 2}
    rotating = synth("dev", DEV_VARIANT)  # the suite's one dev variant: generation 2 among its overrides
    keys, secrets = _signing(rotating)
    # Generation 1 is kept under its own URN (nothing replaced), generation 2 is created beside it.
    assert first_keys < keys and len(keys) == 2
    assert secrets == {"grid-dev-jwt-signing-key", "grid-dev-jwt-signing-key-g2"}
    env = _auth_env(rotating)
    assert env["JWT_SIGNING_KEY"]["valueSource"]["secretKeyRef"]["secret"] == "grid-dev-jwt-signing-key-g2"
    # A public key, so a plain value; under the mocks it is the first generation's public half.
    [first] = [r for r in rotating.of_type(KEY) if r.urn in first_keys]
    assert env["JWT_PREVIOUS_PUBLIC_KEYS"]["value"] == first.outputs["publicKeyPem"]
    assert "PRIVATE" not in env["JWT_PREVIOUS_PUBLIC_KEYS"]["value"]
    # Only auth reads either generation's key (the old revision may still pin the first while it drains).
    readers: dict[str, set[str]] = {}
    for grant in rotating.of_type("gcp:secretmanager/secretIamMember:SecretIamMember"):
        readers.setdefault(grant.inputs["secretId"].rsplit("/", 1)[-1], set()).add(grant.inputs["member"])
    for secret_id in secrets:
        assert readers[secret_id] == {"serviceAccount:grid-dev-auth@acme-grid-dev.iam.gserviceaccount.com"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"generation": 0}, "grid:signingKey.generation"),
        ({"generaton": 2}, "grid:signingKey.generaton"),
    ],
)
def test_bad_rotation_settings_are_one_line_naming_the_key(value, expected) -> None:
    from grid.stackfile import read_stack_file
    from stacks.config import load_stack_config
    from tests.conftest import REPO_ROOT

    stack_file = read_stack_file(REPO_ROOT, "dev")
    raw = {**stack_file.values, "grid:signingKey": value}
    with pytest.raises(ConfigError) as error:
        load_stack_config(raw, stack="dev", source="Pulumi.dev.yaml", secret_keys=stack_file.secret_keys)
    assert expected in str(error.value)
