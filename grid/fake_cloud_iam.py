"""Fake-cloud outputs for project-level IAM configuration: custom roles and audit configs."""

from __future__ import annotations

from grid.fake_cloud import FakeCloud, State, known_types, register_outputs


@register_outputs("gcp:projects/iAMCustomRole:IAMCustomRole")
def _custom_role(cloud: FakeCloud, _logical: str, state: State) -> State:
    # The role's resource name is what IAM bindings use as the role (projects/P/roles/ID).
    name = f"projects/{state.get('project') or cloud.project}/roles/{state['roleId']}"
    return {"__id": name, "name": name, "deleted": False, "stage": state.get("stage") or "GA"}


# An audit config, like an IAM member, only computes the project policy's etag.
register_outputs("gcp:projects/iAMAuditConfig:IAMAuditConfig")(known_types()["gcp:projects/iAMMember:IAMMember"])
