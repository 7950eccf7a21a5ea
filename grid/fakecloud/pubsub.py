"""Pub/Sub: topics, subscriptions and their IAM."""

from __future__ import annotations

from grid.fakecloud.core import Cloud, Outputs, State, iam_member


def _named(collection: str) -> Outputs:
    def outputs(cloud: Cloud, _logical: str, state: State) -> State:
        return {"__id": f"projects/{cloud.project}/{collection}/{state['name']}"}

    return outputs


OUTPUTS: dict[str, Outputs] = {
    "gcp:pubsub/topic:Topic": _named("topics"),
    "gcp:pubsub/subscription:Subscription": _named("subscriptions"),
    "gcp:pubsub/topicIAMMember:TopicIAMMember": iam_member,
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": iam_member,
}
AUTONAMED: frozenset[str] = frozenset({"gcp:pubsub/topic:Topic", "gcp:pubsub/subscription:Subscription"})
