"""Asynchronous work: a Pub/Sub event bus with dead-lettering, Cloud Scheduler jobs and a Cloud Tasks queue.

Every push and every scheduled call authenticates with an OIDC token minted for a dedicated invoker service
account, so the receiving Cloud Run service or function can stay private (``roles/run.invoker`` only).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
from pydantic import Field, model_validator

from components._base import GridComponent, child_name_of
from gridlib import gcp_limits
from gridlib.config_base import ConfigModel
from gridlib.gcp_types import Cron, TimeZone

# --- config: the typed, validated input of this component (grid:messaging in a stack file) ---


class TasksConfig(ConfigModel):
    max_dispatches_per_second: float = Field(5, gt=0, le=gcp_limits.TASKS_MAX_DISPATCHES_PER_SECOND)
    max_concurrent_dispatches: int = Field(10, ge=1, le=gcp_limits.TASKS_MAX_CONCURRENT_DISPATCHES)
    max_attempts: int = Field(5, ge=1, le=100)


class MessagingConfig(ConfigModel):
    ack_deadline_seconds: int = Field(60, ge=10, le=600)
    max_delivery_attempts: int = Field(5, ge=5, le=100)
    retention_days: int = Field(7, ge=1, le=31)
    min_backoff_seconds: int = Field(10, ge=0, le=600)
    max_backoff_seconds: int = Field(600, ge=0, le=600)
    analytics_schedule: Cron = Field("0 3 * * *", description="Cron for the daily analytics report.")
    time_zone: TimeZone = "Etc/UTC"
    tasks: TasksConfig = TasksConfig()

    @model_validator(mode="after")
    def _backoff(self) -> MessagingConfig:
        if self.min_backoff_seconds > self.max_backoff_seconds:
            raise ValueError("minBackoffSeconds is above maxBackoffSeconds")
        return self


pubsub = gcp.pubsub

# Pub/Sub keeps unacked messages on a subscription for at most 7 days, although a topic may retain for 31.
MAX_SUBSCRIPTION_RETENTION_DAYS = 7
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def type_filter(event_type: str) -> str:
    """The subscription filter that lets through one event type (publishers set the ``type`` attribute):
    https://cloud.google.com/pubsub/docs/subscription-message-filter"""
    return f'attributes.type = "{event_type}"'


def _seconds(value: float) -> str:
    """Google's duration string: ``1209600s``, ``0.5s`` (never ``1.2e+06s``, which the APIs reject)."""
    return f"{int(value)}s" if float(value).is_integer() else f"{value}s"


def _check_backoffs(owner: str, low: float, high: float) -> None:
    """Refuse a minimum backoff above the maximum, from an args type's ``__post_init__``."""
    if low > high:
        raise ValueError(
            f"{owner}: min_backoff_seconds is above max_backoff_seconds ({low:g} > {high:g}): lower the minimum or "
            "raise the maximum"
        )


def _grant(
    component: GridComponent,
    iam_type: type[pulumi.CustomResource],
    prefix: str,
    role: str,
    members: Mapping[str, pulumi.Input[str]],
    **target: pulumi.Input[str],
) -> None:
    """One resource-level IAM member per workload, named ``<component>-<prefix>-<workload>``."""
    for workload, member in sorted(members.items()):
        iam_type(
            component.child_name(f"{prefix}-{workload}"),
            role=role,
            member=member,
            opts=component.child_opts(),
            **target,
        )


# --- EventBus -----------------------------------------------------------------------------------------------


@dataclass
class PullSubscriptionArgs:
    name: str
    """Short name of the consumer (``ai-indexer``); the subscription is ``<topic>-<name>``."""
    subscribers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Workload -> IAM member granted ``roles/pubsub.subscriber`` on this subscription only."""
    filter: str | None = None
    """Optional Pub/Sub filter (``attributes.type = "message.created"``); immutable once created."""
    push_endpoint: pulumi.Input[str] | None = None
    """Deliver by push (with an OIDC token for ``push_invoker_email``) to this URL instead of being pulled; the
    consumer then needs no subscriber grant and no CPU between requests."""
    push_audience: pulumi.Input[str] | None = None
    """OIDC audience of the pushes; defaults to ``push_endpoint``."""


@dataclass
class EventBusArgs:
    config: MessagingConfig
    """Ack deadline, retention, backoff and delivery attempts from ``grid:messaging``."""
    project: str
    service_agent: pulumi.Input[str]
    """IAM member of the Pub/Sub service agent (the Google-managed account that moves undeliverable messages to
    the dead-letter topic), from the one that created it (components/project.py ServiceAgents), so the grants
    to it wait until it exists."""
    topic_name: str
    """Pub/Sub topic ID of the app events (``grid-prod-events``); the dead-letter topic adds ``-dead-letter``."""
    push_endpoint: pulumi.Input[str]
    """HTTPS URL of the consumer (the ml-analytics function) the push subscription delivers to."""
    push_invoker_email: pulumi.Input[str]
    """Service account Pub/Sub mints the OIDC token for; it needs ``roles/run.invoker`` on the consumer."""
    push_audience: pulumi.Input[str] | None = None
    """OIDC audience; defaults to ``push_endpoint``, which is what Cloud Run and functions gen2 verify."""
    publishers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Workload -> IAM member granted ``roles/pubsub.publisher`` on the events topic only."""
    pull_subscriptions: Sequence[PullSubscriptionArgs] = ()
    """Extra consumers that pull (the ai indexer); each gets the same retry and dead-letter policy."""
    labels: Mapping[str, str] = field(default_factory=dict)

    def pubsub_id(self, suffix: str | None = None) -> str:
        """The topic or subscription ID ``<topic_name>-<suffix>`` (the events topic itself without one)."""
        return self.topic_name if suffix is None else f"{self.topic_name}-{suffix}"

    def __post_init__(self) -> None:
        # Every topic and subscription ID derives from topic_name: refused here, before the first one registers.
        suffixes = (None, *_FIXED_SUFFIXES, *(consumer.name for consumer in self.pull_subscriptions))
        for pubsub_id in map(self.pubsub_id, suffixes):
            if problem := gcp_limits.name_problem("pubsub", pubsub_id):
                raise ValueError(f"EventBus: the Pub/Sub ID {problem}: change topic_name or the consumer's name")


# The topics' and subscriptions' suffixes besides the consumers' names: the dead-letter topic, its inspection
# subscription and the push subscription.
_DEAD_LETTER, _INSPECT, _PUSH = _FIXED_SUFFIXES = ("dead-letter", "dead-letter-inspect", "push")


class EventBus(GridComponent):
    """Events topic, push subscription with OIDC, pull subscriptions, and a dead-letter topic you can inspect."""

    _module = "messaging"

    topic_id: pulumi.Output[str]
    """``projects/<p>/topics/<name>``."""
    topic_name: pulumi.Output[str]
    dead_letter_topic_id: pulumi.Output[str]
    push_subscription_name: pulumi.Output[str]
    dead_letter_subscription_name: pulumi.Output[str]
    pull_subscription_names: dict[str, pulumi.Output[str]]
    """Consumer name -> subscription name."""

    def __init__(self, name: str, args: EventBusArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        labels = dict(args.labels)
        topic_retention = _seconds(cfg.retention_days * 86400)
        subscription_retention = _seconds(min(cfg.retention_days, MAX_SUBSCRIPTION_RETENTION_DAYS) * 86400)
        never_expire = pubsub.SubscriptionExpirationPolicyArgs(ttl="")
        agent = args.service_agent

        topic, dead_letter = (
            pubsub.Topic(
                self.child_name(suffix),
                project=args.project,
                name=topic_id,
                message_retention_duration=topic_retention,
                labels=labels,
                opts=self.child_opts(),
            )
            for suffix, topic_id in (("topic", args.pubsub_id()), (_DEAD_LETTER, args.pubsub_id(_DEAD_LETTER)))
        )
        # Without a subscription, messages published to the dead-letter topic are dropped: nothing to inspect.
        dead_letter_inspect = pubsub.Subscription(
            self.child_name(_INSPECT),
            project=args.project,
            name=args.pubsub_id(_INSPECT),
            topic=dead_letter.id,
            ack_deadline_seconds=cfg.ack_deadline_seconds,
            message_retention_duration=subscription_retention,
            retain_acked_messages=True,
            expiration_policy=never_expire,
            labels=labels,
            opts=self.child_opts(),
        )
        # The service agent publishes dead letters as itself; without this grant they are silently retried forever.
        dead_letter_publisher = pubsub.TopicIAMMember(
            self.child_name("dead-letter-agent-publisher"),
            project=args.project,
            topic=dead_letter.id,
            role="roles/pubsub.publisher",
            member=agent,
            opts=self.child_opts(),
        )

        def subscription(
            suffix: str,
            push_config: pubsub.SubscriptionPushConfigArgs | None = None,
            message_filter: str | None = None,
        ) -> pubsub.Subscription:
            sub = pubsub.Subscription(
                self.child_name(suffix),
                project=args.project,
                name=args.pubsub_id(suffix),
                topic=topic.id,
                ack_deadline_seconds=cfg.ack_deadline_seconds,
                message_retention_duration=subscription_retention,
                expiration_policy=never_expire,
                retry_policy=pubsub.SubscriptionRetryPolicyArgs(
                    minimum_backoff=_seconds(cfg.min_backoff_seconds),
                    maximum_backoff=_seconds(cfg.max_backoff_seconds),
                ),
                dead_letter_policy=pubsub.SubscriptionDeadLetterPolicyArgs(
                    dead_letter_topic=dead_letter.id, max_delivery_attempts=cfg.max_delivery_attempts
                ),
                push_config=push_config,
                filter=message_filter,
                labels=labels,
                opts=self.child_opts(depends_on=[dead_letter_publisher]),
            )
            # The agent must be able to ack the original message on the source subscription to forward it.
            pubsub.SubscriptionIAMMember(
                self.child_name(f"{suffix}-agent-subscriber"),
                project=args.project,
                subscription=sub.name,
                role="roles/pubsub.subscriber",
                member=agent,
                opts=self.child_opts(),
            )
            return sub

        def push_to(endpoint: pulumi.Input[str], audience: pulumi.Input[str] | None):
            return pubsub.SubscriptionPushConfigArgs(
                push_endpoint=endpoint,
                oidc_token=pubsub.SubscriptionPushConfigOidcTokenArgs(
                    service_account_email=args.push_invoker_email,
                    audience=audience if audience is not None else endpoint,
                ),
            )

        push = subscription(_PUSH, push_config=push_to(args.push_endpoint, args.push_audience))
        self.pull_subscription_names = {}
        for consumer in args.pull_subscriptions:
            if consumer.push_endpoint is not None:
                pushed = subscription(
                    consumer.name,
                    push_config=push_to(consumer.push_endpoint, consumer.push_audience),
                    message_filter=consumer.filter,
                )
                self.pull_subscription_names[consumer.name] = pushed.name
                continue
            pull = subscription(consumer.name, message_filter=consumer.filter)
            _grant(
                self,
                pubsub.SubscriptionIAMMember,
                f"{consumer.name}-subscriber",
                "roles/pubsub.subscriber",
                consumer.subscribers,
                project=args.project,
                subscription=pull.name,
            )
            self.pull_subscription_names[consumer.name] = pull.name
        _grant(
            self,
            pubsub.TopicIAMMember,
            "publisher",
            "roles/pubsub.publisher",
            args.publishers,
            project=args.project,
            topic=topic.id,
        )

        self.topic_id = topic.id
        self.topic_name = topic.name
        self.dead_letter_topic_id = dead_letter.id
        self.push_subscription_name = push.name
        self.dead_letter_subscription_name = dead_letter_inspect.name
        self.register_outputs(
            {
                "topic_id": self.topic_id,
                "dead_letter_topic_id": self.dead_letter_topic_id,
                "push_subscription_name": self.push_subscription_name,
                "dead_letter_subscription_name": self.dead_letter_subscription_name,
                "pull_subscription_names": self.pull_subscription_names,
            }
        )


# --- Scheduler ----------------------------------------------------------------------------------------------


@dataclass
class ScheduledJobArgs:
    name: str
    """Suffix of the job: its Cloud Scheduler job ID and child name are ``<component>-<name>``."""
    schedule: str
    """Five-field cron expression, e.g. ``0 3 * * *``."""
    uri: pulumi.Input[str]
    """HTTPS target (a Cloud Run or function URL plus path)."""
    invoker_email: pulumi.Input[str]
    """Service account the OIDC token is minted for; needs ``roles/run.invoker`` on the target."""
    audience: pulumi.Input[str] | None = None
    """OIDC audience; defaults to ``uri`` (Cloud Run accepts the service URL with or without the path)."""
    time_zone: str = "Etc/UTC"
    """IANA time zone the schedule is evaluated in."""
    http_method: str = "POST"
    body: str | None = None
    """Request body as text (sent as JSON); only for POST, PUT and PATCH."""
    description: str = ""
    google_api: bool = False
    """The target is a Google API (e.g. Workflows executions): send an OAuth access token, not an OIDC token."""

    def __post_init__(self) -> None:
        # Refused here, before the Scheduler registers anything (not after the jobs listed before this one).
        if problem := gcp_limits.time_zone_problem(self.time_zone):
            raise ValueError(f"scheduler job {self.name}: time_zone {problem}: set time_zone to one")
        if len(self.description) > gcp_limits.SCHEDULER_DESCRIPTION_MAX_CHARS:
            raise ValueError(
                f"scheduler job {self.name}: description is {len(self.description)} chars, over Google's limit of "
                f"{gcp_limits.SCHEDULER_DESCRIPTION_MAX_CHARS}: shorten it"
            )
        method = self.http_method.upper()
        if self.body is not None and method not in _BODY_METHODS:
            raise ValueError(
                f"scheduler job {self.name}: a body needs POST, PUT or PATCH (got {method}): set http_method to "
                "one of them or drop the body"
            )


@dataclass
class SchedulerArgs:
    project: str
    region: str
    """Cloud Scheduler location (a region where the App Engine-less Scheduler API is available)."""
    jobs: Sequence[ScheduledJobArgs]
    retry_count: int = 3
    """Retries after a failed run (0-5); the next scheduled run happens regardless."""
    min_backoff_seconds: int = 30
    max_backoff_seconds: int = 600
    max_doublings: int = 3
    attempt_deadline_seconds: int = 300
    """How long one HTTP attempt may take (15 s - 30 min) before Scheduler counts it as failed."""

    def __post_init__(self) -> None:
        # Google's ranges (gridlib.gcp_limits cites them), refused here rather than job by job at apply time.
        gcp_limits.check_ranges(
            "Scheduler",
            (
                ("retry_count", self.retry_count, gcp_limits.SCHEDULER_RETRY_COUNT),
                ("min_backoff_seconds", self.min_backoff_seconds, gcp_limits.SCHEDULER_BACKOFF_SECONDS),
                ("max_backoff_seconds", self.max_backoff_seconds, gcp_limits.SCHEDULER_BACKOFF_SECONDS),
                ("max_doublings", self.max_doublings, gcp_limits.SCHEDULER_MAX_DOUBLINGS),
                (
                    "attempt_deadline_seconds",
                    self.attempt_deadline_seconds,
                    gcp_limits.SCHEDULER_HTTP_ATTEMPT_DEADLINE_SECONDS,
                ),
            ),
        )
        _check_backoffs("Scheduler", self.min_backoff_seconds, self.max_backoff_seconds)
        # Two jobs of one name would be one child name twice: the engine refuses the second after the first
        # registered. Refused here instead, before anything registers.
        if repeated := sorted(n for n, count in Counter(job.name for job in self.jobs).items() if count > 1):
            raise ValueError(f"scheduler jobs named twice: {', '.join(repeated)}: give each job a name of its own")


class Scheduler(GridComponent):
    """Cloud Scheduler HTTP jobs that call private endpoints with an OIDC token."""

    _module = "messaging"

    job_ids: dict[str, pulumi.Output[str]]
    """Job name -> ``projects/<p>/locations/<region>/jobs/<name>``."""

    def __init__(self, name: str, args: SchedulerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # The job IDs are the children's names (the component's and the job's): checked before registering, since
        # the args do not know the component's name.
        for job in args.jobs:
            if problem := gcp_limits.name_problem("scheduler_job", child_name_of(name, job.name)):
                raise ValueError(f"Scheduler '{name}': the job ID {problem}: rename the component or the job")
        super().__init__(name, opts)
        retry = gcp.cloudscheduler.JobRetryConfigArgs(
            retry_count=args.retry_count,
            min_backoff_duration=_seconds(args.min_backoff_seconds),
            max_backoff_duration=_seconds(args.max_backoff_seconds),
            max_doublings=args.max_doublings,
        )
        self.job_ids = {}
        for job in args.jobs:
            method = job.http_method.upper()
            # The Scheduler API takes the body base64-encoded; plain text is rejected at apply time.
            body = base64.b64encode(job.body.encode()).decode() if job.body is not None else None
            resource = gcp.cloudscheduler.Job(
                self.child_name(job.name),
                project=args.project,
                region=args.region,
                name=self.child_name(job.name),  # unique per stack: job IDs are per project+region
                description=job.description or None,
                schedule=job.schedule,
                time_zone=job.time_zone,
                attempt_deadline=_seconds(args.attempt_deadline_seconds),
                retry_config=retry,
                http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                    uri=job.uri,
                    http_method=method,
                    body=body,
                    headers={"Content-Type": "application/json"} if body is not None else None,
                    oidc_token=None
                    if job.google_api
                    else gcp.cloudscheduler.JobHttpTargetOidcTokenArgs(
                        service_account_email=job.invoker_email,
                        audience=job.audience if job.audience is not None else job.uri,
                    ),
                    oauth_token=gcp.cloudscheduler.JobHttpTargetOauthTokenArgs(
                        service_account_email=job.invoker_email,
                        scope="https://www.googleapis.com/auth/cloud-platform",
                    )
                    if job.google_api
                    else None,
                ),
                opts=self.child_opts(),
            )
            self.job_ids[job.name] = resource.id
        self.register_outputs({"job_ids": self.job_ids})


# --- TaskQueue ----------------------------------------------------------------------------------------------


@dataclass
class TaskQueueArgs:
    config: TasksConfig
    """Dispatch rate, concurrency and max attempts from ``grid:messaging.tasks``."""
    project: str
    region: str
    queue_name: str | None = None
    """Queue ID. Leave unset to auto-name: Cloud Tasks refuses to reuse a deleted queue's name for about
    seven days, so a fixed name turns every replacement into a week-long outage."""
    min_backoff_seconds: float = 1
    max_backoff_seconds: float = 300
    max_doublings: int = 5
    enqueuers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Workload -> IAM member granted ``roles/cloudtasks.enqueuer`` on this queue only."""
    log_sampling_ratio: float = 0.1
    """Share of task operations logged to Cloud Logging (0-1); every attempt logged gets expensive."""

    def __post_init__(self) -> None:
        # Refused here, before the component registers anything (nothing half-done). The config's own fields
        # (rate, concurrency, attempts) are bounded by TasksConfig.
        gcp_limits.check_ranges(
            "TaskQueue",
            (
                ("min_backoff_seconds", self.min_backoff_seconds, gcp_limits.TASKS_BACKOFF_SECONDS),
                ("max_backoff_seconds", self.max_backoff_seconds, gcp_limits.TASKS_BACKOFF_SECONDS),
                ("max_doublings", self.max_doublings, gcp_limits.TASKS_MAX_DOUBLINGS),
                ("log_sampling_ratio", self.log_sampling_ratio, gcp_limits.TASKS_LOG_SAMPLING_RATIO),
            ),
        )
        _check_backoffs("TaskQueue", self.min_backoff_seconds, self.max_backoff_seconds)


class TaskQueue(GridComponent):
    """A rate-limited Cloud Tasks queue with retries, and who may enqueue into it."""

    _module = "messaging"

    queue_id: pulumi.Output[str]
    """``projects/<p>/locations/<region>/queues/<name>``, the parent the app creates tasks in."""
    queue_name: pulumi.Output[str]

    def __init__(self, name: str, args: TaskQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        cfg = args.config
        queue = gcp.cloudtasks.Queue(
            self.child_name("queue"),
            project=args.project,
            location=args.region,
            name=args.queue_name,
            rate_limits=gcp.cloudtasks.QueueRateLimitsArgs(
                max_dispatches_per_second=cfg.max_dispatches_per_second,
                max_concurrent_dispatches=cfg.max_concurrent_dispatches,
            ),
            retry_config=gcp.cloudtasks.QueueRetryConfigArgs(
                max_attempts=cfg.max_attempts,
                min_backoff=_seconds(args.min_backoff_seconds),
                max_backoff=_seconds(args.max_backoff_seconds),
                max_doublings=args.max_doublings,
            ),
            stackdriver_logging_config=gcp.cloudtasks.QueueStackdriverLoggingConfigArgs(
                sampling_ratio=args.log_sampling_ratio
            ),
            opts=self.child_opts(),
        )
        _grant(
            self,
            gcp.cloudtasks.QueueIamMember,
            "enqueuer",
            "roles/cloudtasks.enqueuer",
            args.enqueuers,
            project=args.project,
            location=args.region,
            name=queue.name,
        )
        self.queue_id = queue.id
        self.queue_name = queue.name
        self.register_outputs({"queue_id": self.queue_id, "queue_name": self.queue_name})
