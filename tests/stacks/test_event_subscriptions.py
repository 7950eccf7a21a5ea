"""Consumers of published event types get their own filtered push subscription (stacks/serving.py
_event_subscriptions): the scraper's item.scraped is pushed to ai, and only while something publishes it.

Which subscriptions exist is a function of the config (stacks/workloads.py ``event_consumers``): what a change of
the stack file does to it is asserted on the config alone, and that the program plans exactly one filtered
subscription per consumer, and no other, on every shipped stack's plan (dev-external declares no scraper: nothing
publishes item.scraped there)."""

from __future__ import annotations

from typing import Any

import pytest

from components.messaging import type_filter
from stacks.workloads import BUNDLED_BY_NAME, event_consumers
from tests.conftest import STACKS, stack_config

SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
RUN = "gcp:cloudrunv2/service:Service"
RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
ITEMS = ("ai", "item.scraped")


def _subscriptions(plan) -> dict[str, dict]:
    return {s.inputs["name"]: s.inputs for s in plan.of_type(SUBSCRIPTION)}


def _consumed(stack: str, overrides: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    """(consumer, event type) pairs the stack file with ``overrides`` gets a filtered subscription for."""
    return {(consumer.name, event) for consumer, event, _ in event_consumers(stack_config(stack, overrides).workloads)}


def test_the_scrapers_items_are_pushed_to_ai_through_a_subscription_of_their_own(synth) -> None:
    plan = synth("prod")
    subs = _subscriptions(plan)
    items = subs["grid-prod-events-ai-item-scraped"]
    assert items["filter"] == 'attributes.type = "item.scraped"'
    [(_, path)] = BUNDLED_BY_NAME["ai"].consumes
    assert items["pushConfig"]["pushEndpoint"].endswith(f".run.app{path}")
    assert "grid-prod-ai-" in items["pushConfig"]["pushEndpoint"]
    token = items["pushConfig"]["oidcToken"]
    assert token["serviceAccountEmail"].startswith("grid-prod-invoker@")
    # The audience ai accepts (its custom audience) and checks itself (PUSH_AUDIENCE), as for its message pushes.
    ai = next(s for s in plan.of_type(RUN) if s.inputs["labels"]["grid-service"] == "ai")
    assert token["audience"] in ai.inputs["customAudiences"]
    env = {e["name"]: e.get("value") for e in ai.inputs["template"]["containers"][0]["envs"]}
    assert env["PUSH_AUDIENCE"] == token["audience"] and env["EVENTS_BACKEND"] == "push"
    invokers = {r.inputs["member"] for r in plan.of_type(RUN_IAM) if r.inputs["name"] == ai.inputs["name"]}
    assert f"serviceAccount:{token['serviceAccountEmail']}" in invokers
    # Retries and dead letters as every subscription of the bus.
    assert (
        items["deadLetterPolicy"]["maxDeliveryAttempts"]
        == subs["grid-prod-events-push"]["deadLetterPolicy"]["maxDeliveryAttempts"]
    )


def test_the_existing_indexer_subscription_is_unchanged(synth) -> None:
    """Its filter is immutable: giving it one would replace it (and drop its backlog)."""
    indexer = _subscriptions(synth("prod"))["grid-prod-events-ai-indexer"]
    assert "filter" not in indexer or indexer["filter"] in (None, "")
    assert indexer["pushConfig"]["pushEndpoint"].endswith("/ai/events/pubsub")


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_has_one_filtered_subscription_per_event_consumer_and_no_other(synth, stack: str) -> None:
    config = stack_config(stack)
    expected = {
        f"{config.name_prefix}-events-{consumer.name}-{event.replace('.', '-')}": (type_filter(event), consumer, path)
        for consumer, event, path in event_consumers(config.workloads)
    }
    filtered = {name: sub for name, sub in _subscriptions(synth(stack)).items() if sub.get("filter")}
    assert set(filtered) == set(expected)
    for name, (event_filter, consumer, path) in expected.items():
        endpoint = filtered[name]["pushConfig"]["pushEndpoint"]
        assert filtered[name]["filter"] == event_filter
        assert f"{config.name_prefix}-{consumer.name}-" in endpoint and endpoint.endswith(f".run.app{path}")


def test_no_subscription_while_nothing_publishes_items_or_ai_is_off() -> None:
    assert _consumed("dev") == {ITEMS}
    assert _consumed("dev-external") == set()  # the shipped stack whose plan shows none (the test above)
    assert _consumed("dev", {"grid:jobs": {"scraper": {"enabled": False}}}) == set()
    assert _consumed("dev", {"grid:jobs": {"scraper": {"publishes": []}}}) == set()
    assert _consumed("dev", {"grid:services": {"ai": {"enabled": False}}}) == set()


def test_any_publisher_of_the_type_brings_the_subscription() -> None:
    """The scraper is not named anywhere: another job publishing item.scraped gets ai the same subscription."""
    crawler = {"source": "jobs/scraper", "reads": ["database", "events"], "publishes": ["item.scraped"]}
    assert _consumed("dev", {"grid:jobs": {"scraper": {"enabled": False}, "crawler": crawler}}) == {ITEMS}
