"""Run one policy on engine-shaped inputs, as the analyzer would, and collect its messages."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from grid.policy_eval import _engine_properties, _stack_resources
from policies import all_policies
from policies.rule import effective_config

POLICIES: dict[str, Policy] = {policy.name: policy for policy in all_policies}


DELETE = object()  # a `tweak` value that removes the key


def tweak(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `base` with dotted paths set (`"settings.tier": "x"`); value DELETE removes."""
    result = copy.deepcopy(dict(base))
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = result
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return result


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def run_resource_policy(
    name: str,
    resource_type: str,
    props: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    resource_name: str = "r",
) -> list[str]:
    policy = POLICIES[name]
    assert isinstance(policy, ResourceValidationPolicy)
    messages: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(_engine_properties(props)),
        f"urn:test::{resource_name}",
        resource_name,
        _options(),
        None,
        effective_config(policy.config_schema, config),
        {},
    )
    policy.validate(args, lambda message, urn=None: messages.append(message))
    return messages


def run_stack_policy(
    name: str, resources: list[dict[str, Any]], config: Mapping[str, Any] | None = None
) -> list[tuple[str | None, str]]:
    policy = POLICIES[name]
    found: list[tuple[str | None, str]] = []
    args = StackValidationArgs(_stack_resources(resources), effective_config(policy.config_schema, config), {})
    policy.validate(args, lambda message, urn=None: found.append((urn, message)))
    return found


def stack_resource(
    urn: str, resource_type: str, inputs: Mapping[str, Any], dependencies: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": resource_type,
        "name": urn.rsplit("::", 1)[-1],
        "parent": None,
        "custom": True,
        "protect": False,
        "dependencies": list(dependencies),
        "inputs": dict(inputs),
    }


__all__ = ["DELETE", "POLICIES", "run_resource_policy", "run_stack_policy", "stack_resource", "tweak"]
