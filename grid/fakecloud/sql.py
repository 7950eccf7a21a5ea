"""Cloud SQL: instances (private IP only), their databases and users."""

from __future__ import annotations

from grid.fakecloud.core import OFFLINE_CA_PEM, Cloud, Outputs, State


def _instance(cloud: Cloud, logical: str, state: State) -> State:
    region = cloud.region_of(state)
    ip = cloud.private_ip(logical)
    return {
        "__id": state["name"],
        "connectionName": f"{cloud.project}:{region}:{state['name']}",
        "privateIpAddress": ip,
        "publicIpAddress": "",
        "firstIpAddress": ip,
        "ipAddresses": [{"ipAddress": ip, "type": "PRIVATE"}],
        "selfLink": f"https://sqladmin.googleapis.com/sql/v1beta4/projects/{cloud.project}/instances/{state['name']}",
        "serviceAccountEmailAddress": f"p{cloud.project_number}-{cloud.digest(logical, 6)}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        "dnsName": f"{cloud.digest(logical, 12)}.{region}.sql.goog.",
        # Every instance has its server CA from creation on (its per-instance CA by default).
        "serverCaCerts": [{"cert": OFFLINE_CA_PEM}],
    }


def _database(cloud: Cloud, _logical: str, state: State) -> State:
    return {"__id": f"projects/{cloud.project}/instances/{state.get('instance')}/databases/{state.get('name')}"}


def _user(_cloud: Cloud, _logical: str, state: State) -> State:
    return {"__id": f"{state.get('name')}//{state.get('instance')}"}


OUTPUTS: dict[str, Outputs] = {
    "gcp:sql/databaseInstance:DatabaseInstance": _instance,
    "gcp:sql/database:Database": _database,
    "gcp:sql/user:User": _user,
}
AUTONAMED: frozenset[str] = frozenset({"gcp:sql/databaseInstance:DatabaseInstance"})
