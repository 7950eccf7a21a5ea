"""A component refuses bad input before it registers anything: nothing half-done.

Under ``pulumi up`` the engine creates each resource as its registration arrives, so a component that registers
itself (``super().__init__``) or a first child and only then raises leaves a deployment half-done. Each case is
a component of ``BUILDS`` (tests/components/test_standalone.py) with one bad input, built as a program of its own
under the offline engine: it must raise with nothing of it registered, not even the component. The cases whose
builder creates no input of its own first are also built outside any program (no mock runtime, no event loop,
where the first Pulumi call would fail), so whatever tests ran before in the process, the refusal is the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from components._base import GridComponent
from components.bootstrap import CiIdentity
from components.cache import Cache, CacheConfig
from components.compute import CloudFunction, CloudRunJob, CloudRunService
from components.compute.functions import FunctionSize
from components.database import Database, DatabaseConfig
from components.gateway import ApiGateway, Backend, EdgeArgs, HttpsLoadBalancer
from components.identity import WorkloadIdentities
from components.messaging import EventBus, PullSubscriptionArgs, ScheduledJobArgs, Scheduler, TaskQueue
from components.monitoring import CostCap, Monitoring, MonitoringConfig
from components.networking import Networking
from components.secrets import SecretRef
from tests.components.offline_program import outside_any_program, run_offline_catching
from tests.components.test_standalone import BUILDS, URL, alone_name, refused_alone


class Case(NamedTuple):
    component: type
    args: Callable[[Path], dict]
    """(tmp dir) -> what to put in place of the builder's minimal args (``dataclasses.replace``), made in the
    program; ``name`` names the component."""
    message: str
    """What the refusal says (a regex): what is wrong, then how to fix it."""
    inputs: bool = False
    """The builder or the args create a resource first (a network, function builds), as the component's input:
    the case runs in a program only."""


def _job(name: str, **args: object) -> ScheduledJobArgs:
    return ScheduledJobArgs(name=name, schedule="0 3 * * *", uri=URL, invoker_email="svc@acme.io", **args)  # type: ignore[arg-type]


def _backends(*prefixes: str | None) -> list[Backend]:
    return [Backend(key=f"b{i}", kind="run", service_name=f"s{i}", path_prefix=p) for i, p in enumerate(prefixes)]


def _external(kind: type[CacheConfig] | type[DatabaseConfig], **config: object) -> CacheConfig | DatabaseConfig:
    return kind.model_validate({"external": {"urlSecret": "providerUrl"}, **config})


def _without_requirements(tmp: Path) -> dict:
    source = tmp / "bare_function"  # not the builder's own source directory, which has one
    source.mkdir(exist_ok=True)
    (source / "main.py").write_text("def handle(request):\n    return 'ok'\n")
    return {"source_dir": source}


BOTH_WAYS = {"env": {"TOKEN": "plain"}, "secret_env": {"TOKEN": SecretRef("token", "1")}}
EDGE = EdgeArgs(issuer=URL, audience="web", jwks_backend="auth", jwks_path="/auth/jwks.json", quota_per_minute=60)
TWO = {"web": "acme-web", "worker": "acme-worker"}

CASES = {
    "ci-identity-forbidden-role": Case(
        CiIdentity,
        lambda _: {"project_roles": {"acme-team-prod": ["roles/run.admin", "roles/editor"]}},
        r"roles/editor may not be granted on acme-team-prod: grant ",
    ),
    "cache-tier-none": Case(
        Cache, lambda _: {"config": CacheConfig()}, r"needs a tier other than 'none'; skip the component", inputs=True
    ),
    "memorystore-without-access": Case(
        Cache, lambda _: {"access": None}, r"needs the network's private service access: pass access="
    ),
    "external-redis-without-url": Case(
        Cache,
        lambda _: {"config": _external(CacheConfig), "access": None},
        r"external redis needs its URL.*: pass external_url",
    ),
    "cloud-sql-without-access": Case(
        Database, lambda _: {"access": None}, r"needs the network's private service access: pass access="
    ),
    "external-postgres-without-url": Case(
        Database,
        lambda _: {"config": _external(DatabaseConfig, maxConnections=50), "access": None},
        r"external postgres needs its URL.*: pass external_url",
    ),
    "redis-instance-name-too-long": Case(
        Cache,
        lambda _: {"name": "acme-a-rather-long-cache"},
        r"Cache 'acme-a-rather-long-cache': its redis instance name .* over the limit of 40: give the component",
        inputs=True,
    ),
    # On a network named otherwise: one named after the database could not take the name either.
    "sql-instance-name-too-long": Case(
        Database,
        lambda tmp: {"name": "acme-" + "d" * 80, "access": BUILDS[Networking]("acme-net", tmp).private_access},
        r"Database 'acme-d+': its sql instance name .* over the limit of 98: give the component a shorter name",
        inputs=True,
    ),
    # The VPC's name fits and the subnet's does not: the VPC used to be registered before the subnet's refusal.
    "subnet-name-too-long": Case(
        Networking,
        lambda _: {"name": "n" * 50},
        r"its compute name '(n){50}-subnet' is 65 chars.* over the limit of 63: give the component a shorter name",
    ),
    "load-balancer-without-default": Case(
        HttpsLoadBalancer,
        lambda _: {"backends": _backends("/a", "/b")},
        r"exactly one backend must be the default route \(path_prefix=None\), got 0: give",
    ),
    "load-balancer-two-defaults": Case(
        HttpsLoadBalancer,
        lambda _: {"backends": _backends(None, "/a", None)},
        r"default route \(path_prefix=None\), got 2: b0, b2: give every other",
    ),
    "api-gateway-unknown-jwks-backend": Case(
        ApiGateway,
        lambda _: {"edge": EDGE},
        r"edge.jwks_backend 'auth' must name exactly one of the backends \(web\): set it",
    ),
    "identities-roles-of-unknown-workload": Case(
        WorkloadIdentities,
        lambda _: {"accounts": TWO, "project_roles": {"api": ["roles/monitoring.metricWriter"]}},
        r"project_roles names unknown workload 'api': add it to accounts .*\(accounts: web, worker\)",
    ),
    "identities-forbidden-role": Case(
        WorkloadIdentities,
        lambda _: {"accounts": TWO, "project_roles": {"worker": ["roles/owner"]}},
        r"worker: roles/owner may not be granted at project level: grant ",
    ),
    "identities-act-as-unknown-workload": Case(
        WorkloadIdentities,
        lambda _: {"accounts": TWO, "act_as": {"worker": ["web", "cron"]}},
        r"act_as names unknown workload 'cron': add it to accounts",
    ),
    # The first job is fine: it used to be registered before the second one's refusal.
    "scheduler-body-without-write-method": Case(
        Scheduler,
        lambda _: {"jobs": [_job("nightly"), _job("ping", http_method="get", body="{}")]},
        r"scheduler job ping: a body needs POST, PUT or PATCH \(got GET\): set http_method",
    ),
    "scheduler-job-named-twice": Case(
        Scheduler,
        lambda _: {"jobs": [_job("nightly"), _job("nightly")]},
        r"scheduler jobs named twice: nightly: give each job a name",
    ),
    "event-bus-topic-starts-with-goog": Case(
        EventBus,
        lambda _: {"topic_name": "google-events"},
        r"EventBus: the Pub/Sub ID 'google-events' does not match 3-255 chars: a letter first \(not goog\).*: change "
        r"topic_name",
    ),
    # The topics' IDs fit, a consumer's subscription's does not: the topics used to register before its refusal.
    "event-bus-subscription-id-too-long": Case(
        EventBus,
        lambda _: {
            "topic_name": "e" * 230,
            "pull_subscriptions": [PullSubscriptionArgs(name="ai-indexer-of-all-the-events")],
        },
        r"EventBus: the Pub/Sub ID 'e+-ai-indexer-of-all-the-events' is 259 chars, over the limit of 255: change topic_name or the consumer",
    ),
    # Google's documented ranges (gridlib/gcp_limits.py cites each), refused before the first job registers.
    "scheduler-retry-count": Case(
        Scheduler,
        lambda _: {"retry_count": 6},
        r"Scheduler: retry_count is 6, outside Google's allowed 0 to 5: set retry_count within that range",
    ),
    "scheduler-negative-backoff": Case(
        Scheduler,
        lambda _: {"min_backoff_seconds": -1},
        r"Scheduler: min_backoff_seconds is -1, outside Google's allowed at least 0: set min_backoff_seconds",
    ),
    "scheduler-backoff-order": Case(
        Scheduler,
        lambda _: {"min_backoff_seconds": 900, "max_backoff_seconds": 600},
        r"Scheduler: min_backoff_seconds is above max_backoff_seconds \(900 > 600\): lower the minimum",
    ),
    "scheduler-negative-doublings": Case(
        Scheduler,
        lambda _: {"max_doublings": -2},
        r"Scheduler: max_doublings is -2, outside Google's allowed at least 0: set max_doublings within",
    ),
    "scheduler-attempt-deadline-short": Case(
        Scheduler,
        lambda _: {"attempt_deadline_seconds": 10},
        r"Scheduler: attempt_deadline_seconds is 10, outside Google's allowed 15 to 1800: set attempt_deadline",
    ),
    "scheduler-attempt-deadline-long": Case(
        Scheduler,
        lambda _: {"attempt_deadline_seconds": 3600},
        r"attempt_deadline_seconds is 3600, outside Google's allowed 15 to 1800",
    ),
    "scheduler-unknown-time-zone": Case(
        Scheduler,
        lambda _: {"jobs": [_job("nightly"), _job("ping", time_zone="Europe/Pariss")]},
        r"scheduler job ping: time_zone 'Europe/Pariss' is not a tz database time zone name .*: set time_zone",
    ),
    "scheduler-description-too-long": Case(
        Scheduler,
        lambda _: {"jobs": [_job("nightly"), _job("ping", description="d" * 501)]},
        r"scheduler job ping: description is 501 chars, over Google's limit of 500: shorten it",
    ),
    "scheduler-job-id-characters": Case(
        Scheduler,
        lambda _: {"jobs": [_job("nightly"), _job("ping.hourly")]},
        r"Scheduler 'acme-scheduler': the job ID 'acme-scheduler-ping.hourly' does not match .*letters, digits, "
        r"- and _: rename the component or the job",
    ),
    "scheduler-job-id-too-long": Case(
        Scheduler,
        lambda _: {"jobs": [_job("nightly"), _job("p" * 490)]},
        r"the job ID 'acme-scheduler-p+' is 505 chars, over the limit of 500: rename the component or the job",
    ),
    "task-queue-negative-backoff": Case(
        TaskQueue,
        lambda _: {"min_backoff_seconds": -1},
        r"TaskQueue: min_backoff_seconds is -1, outside Google's allowed at least 0: set min_backoff_seconds",
    ),
    "task-queue-negative-doublings": Case(
        TaskQueue,
        lambda _: {"max_doublings": -1},
        r"TaskQueue: max_doublings is -1, outside Google's allowed at least 0: set max_doublings within",
    ),
    "task-queue-log-sampling": Case(
        TaskQueue,
        lambda _: {"log_sampling_ratio": 1.5},
        r"TaskQueue: log_sampling_ratio is 1.5, outside Google's allowed 0 to 1: set log_sampling_ratio within",
    ),
    "task-queue-backoff": Case(
        TaskQueue,
        lambda _: {"min_backoff_seconds": 60, "max_backoff_seconds": 10},
        r"TaskQueue: min_backoff_seconds is above max_backoff_seconds \(60 > 10\): lower the minimum",
    ),
    "monitoring-paging-without-key": Case(
        Monitoring,
        lambda _: {"config": MonitoringConfig.model_validate({"paging": True})},
        r"config.paging is on but no pagerduty_routing_key was given: pass",
    ),
    "monitoring-slo-of-unknown-service": Case(
        Monitoring,
        lambda _: {"config": MonitoringConfig.model_validate({"slos": True}), "run_services": {"web": "acme-web"}},
        r"SLO service 'api' is not among run_services \(web\): set slo_service",
    ),
    "run-service-env-both-ways": Case(
        CloudRunService, lambda _: BOTH_WAYS, r"TOKEN given both as plain value and as secret: keep"
    ),
    "run-job-env-both-ways": Case(
        CloudRunJob, lambda _: BOTH_WAYS, r"TOKEN given both as plain value and as secret: keep"
    ),
    "function-env-both-ways": Case(
        CloudFunction, lambda _: BOTH_WAYS, r"TOKEN given both as plain value and as secret: keep", inputs=True
    ),
    "run-service-name-too-long": Case(
        CloudRunService,
        lambda _: {"service_name": "s" * 50},
        r"CloudRunService: service_name 's+' is 50 chars, over the limit of 49: give the service another name",
    ),
    "run-service-name-characters": Case(
        CloudRunService,
        lambda _: {"service_name": "Web_API"},
        r"CloudRunService: service_name 'Web_API' does not match 1-49 chars, lowercase letters, digits, -: give",
    ),
    "run-job-resources": Case(
        CloudRunJob,
        lambda _: {"cpu": "2", "memory": "16Gi"},
        r"CloudRunJob: cpu 2 needs memory between 128Mi and 8192Mi, got 16Gi",
    ),
    "run-job-cpu-not-a-number": Case(
        CloudRunJob, lambda _: {"cpu": "two"}, r"CloudRunJob: cpu 'two' is not a number: write it like 1"
    ),
    "run-job-task-timeout": Case(
        CloudRunJob,
        lambda _: {"timeout_seconds": 8 * 86400},
        r"CloudRunJob: timeout_seconds is 691200, outside Google's allowed 1 to 604800: set timeout_seconds",
    ),
    "run-job-max-retries": Case(
        CloudRunJob,
        lambda _: {"max_retries": 11},
        r"CloudRunJob: max_retries is 11, outside Google's allowed 0 to 10: set max_retries within that range",
    ),
    "function-name-ends-with-hyphen": Case(
        CloudFunction,
        lambda _: {"function_name": "hello-"},
        r"CloudFunction: function_name 'hello-' does not match 1-63 chars: a letter first.*: give the function",
        inputs=True,
    ),
    "function-name-too-long": Case(
        CloudFunction,
        lambda _: {"function_name": "f" * 64},
        r"CloudFunction: function_name 'f+' is 64 chars, over the limit of 63: give the function another name",
        inputs=True,
    ),
    "function-event-timeout": Case(
        CloudFunction,
        lambda _: {
            "pubsub_topic": "projects/p/topics/t",
            "config": FunctionSize.model_validate({"timeoutSeconds": 900}),
        },
        r"CloudFunction \(Pub/Sub-triggered\): timeout_seconds is 900, outside Google's allowed 1 to 540: set ",
        inputs=True,
    ),
    "function-without-requirements": Case(
        CloudFunction,
        _without_requirements,
        r"a function's source needs a requirements.txt with pinned versions: add one",
        inputs=True,
    ),
    # CostCap builds its function last: the function's args used to refuse the source after the topic and grants.
    "cost-cap-without-requirements": Case(
        CostCap, _without_requirements, r"a function's source needs a requirements.txt .*: add one", inputs=True
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_refused_before_anything_is_registered(case: Case, tmp_path: Path) -> None:
    raised, registered = refused_alone(case.component, tmp_path, lambda: case.args(tmp_path))
    assert [r.name for r in registered] == [], f"registered before the refusal ({raised!r})"
    assert isinstance(raised, ValueError), f"not refused: {raised!r}"
    assert re.search(case.message, str(raised)), str(raised)
    assert "\n" not in str(raised), "a refusal is one line"


OUTSIDE = {key: case for key, case in CASES.items() if not case.inputs}


@pytest.mark.parametrize("case", list(OUTSIDE.values()), ids=list(OUTSIDE))
def test_refused_outside_any_program(case: Case, tmp_path: Path) -> None:
    def build() -> object:
        args = case.args(tmp_path)
        return BUILDS[case.component](args.pop("name", alone_name(case.component)), tmp_path, **args)

    with pytest.raises(ValueError, match=case.message):
        outside_any_program(build)


class _Undeclared(GridComponent):
    """A component that names a limited child it did not declare."""

    _module = "test"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.limited_child_name("instance")


def test_a_limited_child_must_be_declared_up_front(tmp_path: Path) -> None:
    """Its name would otherwise be checked only once the component registered: a bug of the component."""
    raised, _ = run_offline_catching(lambda: _Undeclared("acme-x"), tmp_path)
    assert isinstance(raised, TypeError) and "pass limited={'instance': <name kind>}" in str(raised)


class _Declared(GridComponent):
    _module = "test"

    def __init__(self, name: str) -> None:
        super().__init__(name, limited={"instance": "redis_instance"}, fitted={"cx": "vpc_connector"})
        self.names = (self.limited_child_name("instance"), self.fitted_child_name("cx"))
        self.register_outputs({})


def test_declared_child_names_that_fit_pass(tmp_path: Path) -> None:
    """The up-front check lets through what fits, and the names are those the children always had."""
    built: list[_Declared] = []
    raised, run = run_offline_catching(lambda: built.append(_Declared("acme-cache")), tmp_path)
    assert raised is None and [r.name for r in run.of_type("grid:test:_Declared")] == ["acme-cache"]
    assert built[0].names == ("acme-cache-instance", ("acme-cache-cx", None))
