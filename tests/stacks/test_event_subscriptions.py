"""Consumers of published event types get their own filtered push subscription (stacks/serving.py
_event_subscriptions): the scraper's item.scraped is pushed to ai, and only while something publishes it."""

from __future__ import annotations

from stacks.workloads import BUNDLED_BY_NAME

SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
RUN = "gcp:cloudrunv2/service:Service"
RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"


def _subscriptions(plan) -> dict[str, dict]:
    return {s.inputs["name"]: s.inputs for s in plan.of_type(SUBSCRIPTION)}


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


def test_no_subscription_while_nothing_publishes_items_or_ai_is_off(synth) -> None:
    quiet = synth("dev", {"grid:jobs": {"scraper": {"enabled": False}}})
    assert not any(name.endswith("-ai-item-scraped") for name in _subscriptions(quiet))
    silent = synth("dev", {"grid:jobs": {"scraper": {"publishes": []}}})
    assert not any(name.endswith("-ai-item-scraped") for name in _subscriptions(silent))
    no_ai = synth("dev", {"grid:services": {"ai": {"enabled": False}}})
    assert not any(name.endswith("-ai-item-scraped") for name in _subscriptions(no_ai))
    assert any(name.endswith("-ai-item-scraped") for name in _subscriptions(synth("dev")))


def test_any_publisher_of_the_type_brings_the_subscription(synth) -> None:
    """The scraper is not named anywhere: another job publishing item.scraped gets ai the same subscription."""
    plan = synth(
        "dev",
        {
            "grid:jobs": {
                "scraper": {"enabled": False},
                "crawler": {"source": "jobs/scraper", "reads": ["database", "events"], "publishes": ["item.scraped"]},
            }
        },
    )
    assert _subscriptions(plan)["grid-dev-events-ai-item-scraped"]["filter"] == 'attributes.type = "item.scraped"'
