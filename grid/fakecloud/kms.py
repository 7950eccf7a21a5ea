"""Cloud KMS: the bootstrap project's key ring and key, and who may use the key."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _key_ring(cloud: Cloud, _logical: str, state: State) -> State:
    location = state.get("location") or cloud.region
    return {"__id": f"projects/{state.get('project') or cloud.project}/locations/{location}/keyRings/{state['name']}"}


def _crypto_key(_cloud: Cloud, _logical: str, state: State) -> State:
    # The provider's ID is the key's resource name, under its key ring's (which the program passes as keyRing).
    return {"__id": f"{state['keyRing']}/cryptoKeys/{state['name']}", "primary": [{"name": "1", "state": "ENABLED"}]}


OUTPUTS: dict[str, Outputs] = {
    "gcp:kms/keyRing:KeyRing": _key_ring,
    "gcp:kms/cryptoKey:CryptoKey": _crypto_key,
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": iam_member,
}
AUTONAMED: frozenset[str] = frozenset()
