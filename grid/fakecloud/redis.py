"""Memorystore for Redis: instances, with TLS (port 6378, server CA) and AUTH when the program asks for them."""

from __future__ import annotations

from pulumi.runtime import rpc

from grid.fakecloud.core import OFFLINE_CA_PEM, Cloud, Outputs, State


def _instance(cloud: Cloud, logical: str, state: State) -> State:
    region = cloud.region_of(state)
    tls = state.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
    out: State = {
        "__id": f"projects/{cloud.project}/locations/{region}/instances/{state['name']}",
        "host": cloud.private_ip(logical),
        "port": 6378 if tls else 6379,
        "currentLocationId": f"{region}-a",
        "persistenceIamIdentity": f"serviceAccount:service-{cloud.project_number}@cloud-redis.iam.gserviceaccount.com",
        "serverCaCerts": [{"cert": OFFLINE_CA_PEM}] if tls else [],
    }
    if state.get("authEnabled"):
        out["authString"] = rpc.wrap_rpc_secret(f"offline-{cloud.digest(logical, 32)}")
    return out


OUTPUTS: dict[str, Outputs] = {"gcp:redis/instance:Instance": _instance}
AUTONAMED: frozenset[str] = frozenset(OUTPUTS)
