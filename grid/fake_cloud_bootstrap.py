"""Fake-cloud outputs for the grid-bootstrap resources: Cloud KMS, Workload Identity Federation, billing IAM.
Same rules as grid/fake_cloud.py: Google's shapes, derived from the logical name."""

from __future__ import annotations

from grid.fake_cloud import FakeCloud, State, known_types, register_outputs


@register_outputs("gcp:kms/keyRing:KeyRing")
def _key_ring(cloud: FakeCloud, _logical: str, state: State) -> State:
    location = state.get("location") or cloud.region
    return {"__id": f"projects/{state.get('project') or cloud.project}/locations/{location}/keyRings/{state['name']}"}


@register_outputs("gcp:kms/cryptoKey:CryptoKey")
def _crypto_key(cloud: FakeCloud, _logical: str, state: State) -> State:
    # The provider's ID is the key's resource name, under its key ring's (which the program passes as keyRing).
    return {"__id": f"{state['keyRing']}/cryptoKeys/{state['name']}", "primary": [{"name": "1", "state": "ENABLED"}]}


@register_outputs("gcp:iam/workloadIdentityPool:WorkloadIdentityPool")
def _pool(cloud: FakeCloud, _logical: str, state: State) -> State:
    # Principal identifiers use the project *number*, as the real `name` output does.
    name = f"projects/{cloud.project_number}/locations/global/workloadIdentityPools/{state['workloadIdentityPoolId']}"
    return {"__id": name, "name": name, "state": "ACTIVE"}


@register_outputs("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
def _pool_provider(cloud: FakeCloud, _logical: str, state: State) -> State:
    pool = f"projects/{cloud.project_number}/locations/global/workloadIdentityPools/{state['workloadIdentityPoolId']}"
    name = f"{pool}/providers/{state['workloadIdentityPoolProviderId']}"
    return {"__id": name, "name": name, "state": "ACTIVE"}


_IAM_MEMBER = known_types()["gcp:projects/iAMMember:IAMMember"]
for _iam_type in (
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:billing/accountIamMember:AccountIamMember",
):
    register_outputs(_iam_type)(_IAM_MEMBER)
