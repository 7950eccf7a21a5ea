"""Every policy: a violating and a passing engine-shaped fixture, and no crash on unknown values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy

from policies import all_policies
from policies.props import UNKNOWN_SENTINELS
from tests.policies.fixtures import RESOURCE_CASES, Case
from tests.policies.harness import run_resource_policy
from tests.policies.stack_fixtures import STACK_CASES

UNKNOWN = next(iter(UNKNOWN_SENTINELS))


def test_every_policy_has_fixtures() -> None:
    covered = {case.policy for case in RESOURCE_CASES} | {case.policy for case in STACK_CASES}
    assert covered == {policy.name for policy in all_policies}


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda case: case.policy)
def test_violating_fixture_is_reported(case: Case) -> None:
    messages = run_resource_policy(case.policy, case.type, case.bad, case.config, case.name)
    assert messages, f"{case.policy} accepted its violating fixture"
    assert all(isinstance(message, str) and message for message in messages)


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda case: case.policy)
def test_passing_fixture_is_accepted(case: Case) -> None:
    config = case.good_config if case.good_config is not None else case.config
    assert run_resource_policy(case.policy, case.good_type or case.type, case.good, config, case.name) == []


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a nested structure, containers included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _with_unknown(value: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return UNKNOWN
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _with_unknown(value[head], tuple(rest))}
    return [_with_unknown(item, tuple(rest)) if index == head else item for index, item in enumerate(value)]


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda case: case.policy)
def test_unknown_values_never_crash_and_never_invent_violations(case: Case) -> None:
    """Preview semantics: any input (or subtree) may be unknown; the rule must neither raise nor
    report a violation the known part of the passing fixture does not have."""
    for fixture, must_pass in ((case.bad, False), (case.good, True)):
        resource_type = case.type if fixture is case.bad else case.good_type or case.type
        for path in _paths(fixture):
            props = _with_unknown(fixture, path)
            messages = run_resource_policy(case.policy, resource_type, props, case.config, case.name)
            if must_pass and case.good_config is None:
                assert messages == [], f"{case.policy}: unknown {'.'.join(map(str, path))} produced {messages}"


def test_resource_policies_ignore_other_types() -> None:
    for policy in all_policies:
        if isinstance(policy, ResourceValidationPolicy):
            assert run_resource_policy(policy.name, "gcp:compute/route:Route", {"destRange": "0.0.0.0/0"}) == []


def test_sql_ssl_required_says_what_it_accepts() -> None:
    """Issue 17: the message names the values that pass, for a bad and for an unset sslMode alike."""
    from tests.policies.fixtures import SQL
    from tests.policies.harness import DELETE, tweak

    for props, shown in (
        (tweak(SQL, {"settings.ipConfiguration.sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED"}), "is ALLOW_UNENCRYPTED"),
        (tweak(SQL, {"settings.ipConfiguration.sslMode": DELETE}), "is unset (the API's default"),
    ):
        [message] = run_resource_policy("sql-ssl-required", "gcp:sql/databaseInstance:DatabaseInstance", props)
        assert shown in message
        assert message.endswith("accepted: ENCRYPTED_ONLY or TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
