"""EventBus, Scheduler and TaskQueue as the offline engine records them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from components.messaging import (
    EventBus,
    EventBusArgs,
    MessagingConfig,
    PullSubscriptionArgs,
    ScheduledJobArgs,
    Scheduler,
    SchedulerArgs,
    TaskQueue,
    TaskQueueArgs,
    TasksConfig,
)
from tests.components.offline_program import OfflineRun, outside_any_program, run_offline

PROJECT = "acme-grid-test"
NUMBER = "123456789012"
AGENT = f"serviceAccount:service-{NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
INVOKER = f"grid-test-invoker@{PROJECT}.iam.gserviceaccount.com"
API = f"serviceAccount:grid-test-api@{PROJECT}.iam.gserviceaccount.com"
AI = f"serviceAccount:grid-test-ai@{PROJECT}.iam.gserviceaccount.com"
CONSUMER = "https://grid-test-ml-analytics-abc123-uc.a.run.app"

TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
TOPIC_IAM = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION_IAM = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
JOB = "gcp:cloudscheduler/job:Job"
QUEUE = "gcp:cloudtasks/queue:Queue"


def _bus(tmp_path: Path, config: MessagingConfig | None = None, **overrides: object) -> OfflineRun:
    args = {
        "config": config or MessagingConfig(),
        "project": PROJECT,
        "service_agent": AGENT,
        "topic_name": "grid-test-events",
        "push_endpoint": CONSUMER,
        "push_invoker_email": INVOKER,
        "publishers": {"api": API},
        "pull_subscriptions": [PullSubscriptionArgs(name="ai-indexer", subscribers={"ai": AI})],
    } | overrides
    return run_offline(lambda: EventBus("grid-test-events", EventBusArgs(**args)), tmp_path)


def test_topics_are_named_and_retain_messages(tmp_path: Path) -> None:
    run = _bus(tmp_path, MessagingConfig.model_validate({"retentionDays": 14}))
    events, dead = run.one(TOPIC, "-topic"), run.one(TOPIC, "-dead-letter")
    assert events.inputs["name"] == "grid-test-events" and dead.inputs["name"] == "grid-test-events-dead-letter"
    assert events.inputs["messageRetentionDuration"] == f"{14 * 86400}s"
    # Subscriptions cap at 7 days even when the topic keeps messages longer.
    assert {s.inputs["messageRetentionDuration"] for s in run.of_type(SUBSCRIPTION)} == {f"{7 * 86400}s"}


def test_push_subscription_uses_oidc_retry_and_dead_letter(tmp_path: Path) -> None:
    config = MessagingConfig.model_validate(
        {"ackDeadlineSeconds": 120, "maxDeliveryAttempts": 7, "minBackoffSeconds": 15}
    )
    run = _bus(tmp_path, config)
    push = run.one(SUBSCRIPTION, "-push").inputs
    assert push["topic"] == f"projects/{PROJECT}/topics/grid-test-events"
    assert push["pushConfig"] == {
        "pushEndpoint": CONSUMER,
        "oidcToken": {"serviceAccountEmail": INVOKER, "audience": CONSUMER},
    }
    assert push["retryPolicy"] == {"minimumBackoff": "15s", "maximumBackoff": "600s"}
    assert push["deadLetterPolicy"] == {
        "deadLetterTopic": f"projects/{PROJECT}/topics/grid-test-events-dead-letter",
        "maxDeliveryAttempts": 7,
    }
    assert push["ackDeadlineSeconds"] == 120
    assert push["expirationPolicy"] == {"ttl": ""}


def test_explicit_audience_wins_over_the_endpoint(tmp_path: Path) -> None:
    run = _bus(tmp_path, push_audience="https://ml-analytics.example.com")
    assert run.one(SUBSCRIPTION, "-push").inputs["pushConfig"]["oidcToken"]["audience"] == (
        "https://ml-analytics.example.com"
    )


def test_service_agent_may_publish_dead_letters_and_ack_every_source_subscription(tmp_path: Path) -> None:
    run = _bus(tmp_path)
    publisher = run.one(TOPIC_IAM, "-dead-letter-agent-publisher").inputs
    assert publisher["member"] == AGENT and publisher["role"] == "roles/pubsub.publisher"
    assert publisher["topic"].endswith("/topics/grid-test-events-dead-letter")
    agent_subscriber = {g.inputs["subscription"] for g in run.of_type(SUBSCRIPTION_IAM) if g.inputs["member"] == AGENT}
    sources = {s.inputs["name"] for s in run.of_type(SUBSCRIPTION) if "deadLetterPolicy" in s.inputs}
    assert agent_subscriber == sources == {"grid-test-events-push", "grid-test-events-ai-indexer"}
    assert all(g.inputs["role"] == "roles/pubsub.subscriber" for g in run.of_type(SUBSCRIPTION_IAM))
    # Dead-lettering must not start before the agent can publish to the dead-letter topic.
    grant = run.one(TOPIC_IAM, "-dead-letter-agent-publisher")
    assert grant.urn in run.one(SUBSCRIPTION, "-push").dependencies


def test_dead_letters_can_be_inspected(tmp_path: Path) -> None:
    inspect = _bus(tmp_path).one(SUBSCRIPTION, "-dead-letter-inspect").inputs
    assert inspect["topic"].endswith("/topics/grid-test-events-dead-letter")
    assert inspect["retainAckedMessages"] is True and "deadLetterPolicy" not in inspect and "pushConfig" not in inspect


def test_publishers_and_pull_subscribers_are_granted_on_the_resource_only(tmp_path: Path) -> None:
    run = _bus(tmp_path)
    publishers = [g.inputs for g in run.of_type(TOPIC_IAM) if g.inputs["member"] != AGENT]
    assert publishers == [
        {
            "project": PROJECT,
            "topic": f"projects/{PROJECT}/topics/grid-test-events",
            "role": "roles/pubsub.publisher",
            "member": API,
        }
    ]
    subscriber = run.one(SUBSCRIPTION_IAM, "-ai-indexer-subscriber-ai").inputs
    assert subscriber["subscription"] == "grid-test-events-ai-indexer" and subscriber["member"] == AI
    pull = run.one(SUBSCRIPTION, "-ai-indexer").inputs
    assert "pushConfig" not in pull and pull["deadLetterPolicy"]["maxDeliveryAttempts"] == 5
    assert not run.of_type("gcp:projects/iAMMember:IAMMember")


def test_pull_subscription_filter_and_outputs(tmp_path: Path) -> None:
    consumer = PullSubscriptionArgs(name="ai-indexer", filter='attributes.type = "message.created"')

    def build() -> None:
        import pulumi

        bus = EventBus(
            "grid-test-events",
            EventBusArgs(
                config=MessagingConfig(),
                project=PROJECT,
                service_agent=AGENT,
                topic_name="grid-test-events",
                push_endpoint=CONSUMER,
                push_invoker_email=INVOKER,
                pull_subscriptions=[consumer],
            ),
        )
        pulumi.export("topic", bus.topic_id)
        pulumi.export("deadLetter", bus.dead_letter_topic_id)
        pulumi.export("pull", bus.pull_subscription_names)

    run = run_offline(build, tmp_path)
    assert run.one(SUBSCRIPTION, "-ai-indexer").inputs["filter"] == 'attributes.type = "message.created"'
    assert run.outputs == {
        "topic": f"projects/{PROJECT}/topics/grid-test-events",
        "deadLetter": f"projects/{PROJECT}/topics/grid-test-events-dead-letter",
        "pull": {"ai-indexer": "grid-test-events-ai-indexer"},
    }


def _scheduler(tmp_path: Path, *jobs: ScheduledJobArgs, **overrides: object) -> OfflineRun:
    args = SchedulerArgs(project=PROJECT, region="europe-west1", jobs=list(jobs), **overrides)
    return run_offline(lambda: Scheduler("grid-test-scheduler", args), tmp_path)


def test_scheduler_job_calls_with_oidc_and_retries(tmp_path: Path) -> None:
    report = ScheduledJobArgs(
        name="analytics-daily",
        schedule="0 3 * * *",
        uri=f"{CONSUMER}/report",
        invoker_email=INVOKER,
        time_zone="Asia/Seoul",
        body=json.dumps({"report": "daily"}),
    )
    job = _scheduler(tmp_path, report, retry_count=2, max_backoff_seconds=120).one(JOB).inputs
    assert job["name"] == "grid-test-scheduler-analytics-daily" and job["region"] == "europe-west1"
    assert job["schedule"] == "0 3 * * *" and job["timeZone"] == "Asia/Seoul"
    target = job["httpTarget"]
    assert target["oidcToken"] == {"serviceAccountEmail": INVOKER, "audience": f"{CONSUMER}/report"}
    assert target["httpMethod"] == "POST" and target["uri"] == f"{CONSUMER}/report"
    assert json.loads(base64.b64decode(target["body"])) == {"report": "daily"}
    assert target["headers"] == {"Content-Type": "application/json"}
    assert job["retryConfig"] == {
        "retryCount": 2,
        "minBackoffDuration": "30s",
        "maxBackoffDuration": "120s",
        "maxDoublings": 3,
    }
    assert job["attemptDeadline"] == "300s"


def test_scheduler_get_job_has_no_body_and_a_body_needs_a_write_method(tmp_path: Path) -> None:
    ping = ScheduledJobArgs(name="ping", schedule="*/5 * * * *", uri=CONSUMER, invoker_email=INVOKER, http_method="get")
    target = _scheduler(tmp_path, ping).one(JOB).inputs["httpTarget"]
    assert target["httpMethod"] == "GET" and "body" not in target and "headers" not in target
    with pytest.raises(ValueError, match="a body needs POST, PUT or PATCH"):  # by the job's args, outside a program
        outside_any_program(
            lambda: Scheduler(
                "bad",
                SchedulerArgs(
                    project=PROJECT,
                    region="us-central1",
                    jobs=[ScheduledJobArgs("x", "* * * * *", CONSUMER, INVOKER, http_method="GET", body="{}")],
                ),
            )
        )


def test_task_queue_rate_limits_retries_and_enqueuer(tmp_path: Path) -> None:
    config = TasksConfig.model_validate({"maxDispatchesPerSecond": 2.5, "maxConcurrentDispatches": 4, "maxAttempts": 8})

    def build() -> None:
        args = TaskQueueArgs(
            config=config, project=PROJECT, region="us-central1", max_backoff_seconds=60, enqueuers={"api": API}
        )
        TaskQueue("grid-test-tasks", args)

    run = run_offline(build, tmp_path)
    queue = run.one(QUEUE)
    assert queue.inputs["rateLimits"] == {"maxDispatchesPerSecond": 2.5, "maxConcurrentDispatches": 4}
    assert queue.inputs["retryConfig"] == {
        "maxAttempts": 8,
        "minBackoff": "1s",
        "maxBackoff": "60s",
        "maxDoublings": 5,
    }
    # Auto-named so a replacement does not collide with the deleted queue's reserved name.
    assert queue.inputs["name"].startswith("grid-test-tasks-queue-")
    grant = run.one("gcp:cloudtasks/queueIamMember:QueueIamMember").inputs
    assert grant == {
        "project": PROJECT,
        "location": "us-central1",
        "name": queue.inputs["name"],
        "role": "roles/cloudtasks.enqueuer",
        "member": API,
    }


def test_every_child_is_parented_to_its_component(tmp_path: Path) -> None:
    run = _bus(tmp_path)
    [component] = run.of_type("grid:messaging:EventBus")
    children = run.children_of(component)
    assert len(children) == len(run.resources) - 2  # everything but the stack and the component
    assert all(c.name.startswith("grid-test-events-") for c in children)
