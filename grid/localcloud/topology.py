"""What the plan deploys, read from the offline run's registrations: the one description `grid local --stack`
runs. Nothing here is configured by hand; every fact comes from a resource the program registered."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pulumi

from grid.engine import ProgramRun, Registration
from grid.localcloud.monitoring import METRIC_WRITER
from grid.localcloud.tasks import Queue
from gridlib.labels import EXTERNAL_LABEL

RUN_SERVICE = "gcp:cloudrunv2/service:Service"
RUN_JOB = "gcp:cloudrunv2/job:Job"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
RUN_INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
SQL_INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
SQL_USER = "gcp:sql/user:User"
SQL_DATABASE = "gcp:sql/database:Database"
REDIS = "gcp:redis/instance:Instance"
IMAGE = "docker-build:index:Image"
BUCKET_OBJECT = "gcp:storage/bucketObject:BucketObject"
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
TOPIC_IAM = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION_IAM = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
TASK_QUEUE = "gcp:cloudtasks/queue:Queue"
TASK_QUEUE_IAM = "gcp:cloudtasks/queueIamMember:QueueIamMember"
ACCOUNT_IAM = "gcp:serviceaccount/iAMMember:IAMMember"
URL_MAP = "gcp:compute/uRLMap:URLMap"
BACKEND_SERVICE = "gcp:compute/backendService:BackendService"
NEG = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
SECURITY_POLICY = "gcp:compute/securityPolicy:SecurityPolicy"
CERTIFICATE = "gcp:compute/managedSslCertificate:ManagedSslCertificate"
GLOBAL_ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
HTTPS_RULE_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
API_CONFIG = "gcp:apigateway/apiConfig:ApiConfig"
API_GATEWAY = "gcp:apigateway/gateway:Gateway"
METRIC_DESCRIPTOR = "gcp:monitoring/metricDescriptor:MetricDescriptor"
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"

Ingress = Literal["all", "internal", "internal-and-lb"]
# Cloud Run's and Cloud Functions' spellings of the three ingress settings
# (https://cloud.google.com/run/docs/securing/ingress, https://cloud.google.com/functions/docs/networking/network-settings).
INGRESS = {
    "INGRESS_TRAFFIC_ALL": "all",
    "INGRESS_TRAFFIC_INTERNAL_ONLY": "internal",
    "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER": "internal-and-lb",
    "ALLOW_ALL": "all",
    "ALLOW_INTERNAL_ONLY": "internal",
    "ALLOW_INTERNAL_AND_GCLB": "internal-and-lb",
}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$")
_MEMORY_UNIT = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1000 / 1048576, "M": 1e6 / 1048576, "G": 1e9 / 1048576}


def memory_mib(value: str) -> int:
    """Cloud Run / Functions memory ("512Mi", "2Gi", "256M") in MiB."""
    match = _MEMORY.match(str(value))
    if not match:
        raise ValueError(f"unreadable memory limit {value!r}")
    return int(float(match.group(1)) * _MEMORY_UNIT[match.group(2) or "M"])


@dataclass
class Workload:
    name: str
    """The workload's own name (its grid-service label): auth, api, ai, korean-nlp, ml-analytics, ..."""
    kind: Literal["service", "job", "function"]
    resource_name: str
    """The Cloud Run service / job or function name, as IAM bindings and NEGs name it."""
    urls: list[str]
    """The URLs the plan gives it (the first is the one env values and push endpoints use)."""
    service_account: str
    memory_mib: int
    ingress: Ingress
    command: list[str]
    env: dict[str, str]
    secret_env: dict[str, str]
    """Variable -> secret ID (short form) whose pinned version fills it."""
    timeout_s: float = 300.0
    """Request timeout: Cloud Run ends a request (a WebSocket too) after it
    (https://cloud.google.com/run/docs/configuring/request-timeout)."""
    invokers: set[str] = field(default_factory=set)
    """IAM members granted roles/run.invoker on this workload."""
    custom_audiences: list[str] = field(default_factory=list)
    """Audiences an ID token may name besides the service's URLs
    (https://cloud.google.com/run/docs/configuring/custom-audiences)."""
    invoker_iam_disabled: bool = False
    """Cloud Run's invoker IAM check is off: every caller that ingress admits is invoked, like allUsers but
    without the grant Domain Restricted Sharing refuses (https://cloud.google.com/run/docs/authenticating/public)."""

    @property
    def anyone_may_invoke(self) -> bool:
        return self.invoker_iam_disabled or "allUsers" in self.invokers

    @property
    def public(self) -> bool:
        return self.anyone_may_invoke and self.ingress == "all"


@dataclass
class Database:
    address: str
    """host:port as the plan's URL secret names it."""
    user: str
    password: str
    name: str
    tls_required: bool
    server_name: str = ""
    """The common name of the instance's server certificate: ``<project>:<instance>`` (per-instance CA)."""


@dataclass
class Cache:
    address: str
    auth: bool
    tls: bool
    password: str | None
    """The instance's AUTH string (made locally by the local cloud's fake cloud)."""


@dataclass
class Subscription:
    name: str
    """projects/<p>/subscriptions/<name>"""
    topic: str
    ack_deadline: int
    push_endpoint: str | None
    push_identity: str | None
    push_audience: str | None
    dead_letter_topic: str | None
    max_attempts: int | None
    min_backoff: float
    max_backoff: float
    subscribers: set[str]
    filter: str | None = None
    """Pub/Sub filter on the attributes (grid/localcloud/filters.py): what it rejects is never delivered."""


@dataclass
class SchedulerJob:
    name: str
    uri: str
    method: str
    body: bytes
    identity: str | None
    audience: str | None


# Cloud Scheduler runs a Cloud Run job through the Run Admin API's jobs.run
# (https://cloud.google.com/run/docs/execute/jobs-on-schedule): the job's resource name is in the target URI.
_RUN_JOB_URI = re.compile(r"^https://run\.googleapis\.com/v2/projects/[^/]+/locations/[^/]+/jobs/([^/:]+):run$")


def run_job_target(uri: str) -> str | None:
    """The Cloud Run job a scheduler target runs (its resource name), or None for an HTTP endpoint."""
    match = _RUN_JOB_URI.match(uri)
    return match.group(1) if match else None


@dataclass
class LbRoute:
    hosts: list[str]
    paths: list[tuple[list[str], str]]
    """(path patterns, workload name)"""
    default: str


@dataclass
class ArmorRule:
    priority: int
    action: str
    src_ranges: list[str] | None
    """None: the rule matches by expression (preconfigured WAF), which the local cloud does not evaluate."""
    rate_limit: tuple[int, int, int] | None = None
    """(count, interval s, ban s) for rate_based_ban"""


@dataclass
class LoadBalancer:
    address: str
    domains: list[str]
    routes: list[LbRoute]
    armor: dict[str, list[ArmorRule]]
    """workload -> the rules of the policy on its backend service"""


@dataclass
class ApiGateway:
    hostname: str
    service_account: str
    openapi: dict[str, Any]
    others: list[ApiGateway] = field(default_factory=list)
    """The stack's other gateways (the open one that serves auth's public keys), on the same local entry."""


@dataclass
class Topology:
    stack: str
    project: str
    workloads: dict[str, Workload]
    secrets: dict[str, str]
    database: Database | None
    cache: Cache | None
    topics: dict[str, set[str]]
    """topic -> publisher members"""
    subscriptions: dict[str, Subscription]
    scheduler: dict[str, SchedulerJob]
    entry: LoadBalancer | ApiGateway | None
    external: dict[str, str] = field(default_factory=dict)
    """Stores the plan keeps outside Google Cloud (``postgres``, ``redis``) -> the secret holding the URL (the
    stack's own secret value, which the local cloud replaces with its stand-in's URL)."""
    task_queues: dict[str, Queue] = field(default_factory=dict)
    """Full queue name -> the queue's limits and enqueuers."""
    act_as: dict[str, set[str]] = field(default_factory=dict)
    """Service account email -> members with roles/iam.serviceAccountUser on it."""
    metric_descriptors: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Metric type -> metricKind, valueType, labels (keys): the custom metrics the plan declares."""
    metric_writers: set[str] = field(default_factory=set)
    """Members holding roles/monitoring.metricWriter on the project."""

    def workload_by_resource(self, resource_name: str) -> Workload | None:
        return next((w for w in self.workloads.values() if w.resource_name == resource_name), None)


def _short_secret(secret: str) -> str:
    return str(secret).rsplit("/", 1)[-1]


def _dockerfile_cmd(path: Path) -> list[str]:
    """The exec-form CMD of a service's Dockerfile: what its container runs."""
    cmd = [line for line in path.read_text().splitlines() if line.startswith("CMD ")]
    if not cmd:
        raise ValueError(f"{path}: no CMD")
    return json.loads(cmd[-1][4:])


def read_topology(run: ProgramRun) -> Topology:
    """The plan, as the local cloud runs it. ``run`` must come from ``run_program(..., reveal=True)``."""
    by_type: dict[str, list[Registration]] = {}
    for r in run.resources:
        by_type.setdefault(r.type, []).append(r)

    def plain(r: Registration) -> dict[str, Any]:
        assert r.revealed is not None, "plan with reveal=True"
        inputs = r.revealed["inputs"]
        if "name" not in inputs and "name" in r.revealed["outputs"]:
            inputs["name"] = r.revealed["outputs"]["name"]  # auto-named, as the provider's Check fills it in
        return inputs

    def out(r: Registration) -> dict[str, Any]:
        assert r.revealed is not None, "plan with reveal=True"
        return r.revealed["outputs"]

    images = {out(r)["ref"]: r for r in by_type.get(IMAGE, [])}
    objects = {plain(r)["name"]: r for r in by_type.get(BUCKET_OBJECT, [])}
    invokers: dict[str, set[str]] = {}
    for r in by_type.get(RUN_INVOKER, []):
        invokers.setdefault(plain(r)["name"], set()).add(plain(r)["member"])
    project = ""
    workloads: dict[str, Workload] = {}
    for r in by_type.get(RUN_SERVICE, []):
        i, o = plain(r), out(r)
        project = i.get("project", project)
        container = i["template"]["containers"][0]
        image = images[container["image"]]
        workloads[i["labels"]["grid-service"]] = Workload(
            name=i["labels"]["grid-service"],
            kind="service",
            resource_name=i["name"],
            urls=[o["uri"], *o.get("urls", [])],
            service_account=i["template"]["serviceAccount"],
            memory_mib=memory_mib(container["resources"]["limits"]["memory"]),
            ingress=INGRESS[i.get("ingress", "INGRESS_TRAFFIC_ALL")],
            command=_dockerfile_cmd(Path(plain(image)["dockerfile"]["location"])),
            env={e["name"]: e["value"] for e in container.get("envs", []) if "value" in e},
            secret_env={
                e["name"]: _short_secret(e["valueSource"]["secretKeyRef"]["secret"])
                for e in container.get("envs", [])
                if "valueSource" in e
            },
            timeout_s=_seconds(i["template"].get("timeout"), 300.0),
            invokers=invokers.get(i["name"], set()),
            custom_audiences=list(i.get("customAudiences") or []),
            invoker_iam_disabled=bool(i.get("invokerIamDisabled")),
        )
    for r in by_type.get(RUN_JOB, []):
        i = plain(r)
        template = i["template"]["template"]
        container = template["containers"][0]
        workloads[i["labels"]["grid-service"]] = Workload(
            name=i["labels"]["grid-service"],
            kind="job",
            resource_name=i["name"],
            urls=[],
            service_account=template["serviceAccount"],
            memory_mib=memory_mib(container["resources"]["limits"]["memory"]),
            ingress="internal",
            # No command: the image's own CMD, as Cloud Run runs it (a job of the stack file's own, the scraper).
            command=list(container.get("commands") or [])
            or _dockerfile_cmd(Path(plain(images[container["image"]])["dockerfile"]["location"])),
            env={e["name"]: e["value"] for e in container.get("envs", []) if "value" in e},
            secret_env={
                e["name"]: _short_secret(e["valueSource"]["secretKeyRef"]["secret"])
                for e in container.get("envs", [])
                if "valueSource" in e
            },
        )
    for r in by_type.get(FUNCTION, []):
        i, o = plain(r), out(r)
        service, build = i["serviceConfig"], i["buildConfig"]
        source = _function_source(plain(objects[build["source"]["storageSource"]["object"]])["source"])
        workloads[i["labels"]["grid-service"]] = Workload(
            name=i["labels"]["grid-service"],
            kind="function",
            resource_name=i["name"],
            urls=[o["url"]],
            service_account=service["serviceAccountEmail"],
            memory_mib=memory_mib(service.get("availableMemory", "256M")),
            ingress=INGRESS[service.get("ingressSettings", "ALLOW_ALL")],
            # The functions-framework invocation Cloud Functions' Python runtime makes of the uploaded source.
            command=[
                "python",
                "-m",
                "functions_framework",
                "--target",
                build["entryPoint"],
                "--source",
                str(source / "main.py"),
            ],
            env={k: str(v) for k, v in (service.get("environmentVariables") or {}).items()},
            secret_env={s["key"]: _short_secret(s["secret"]) for s in service.get("secretEnvironmentVariables") or []},
            timeout_s=float(service.get("timeoutSeconds", 60)),
            invokers=invokers.get(i["name"], set()),
        )

    secrets = {_short_secret(plain(r)["secret"]): str(plain(r)["secretData"]) for r in by_type.get(SECRET_VERSION, [])}
    external = {
        label: str(plain(r)["secretId"])
        for r in by_type.get(SECRET, [])
        if (label := (plain(r).get("labels") or {}).get(EXTERNAL_LABEL))
    }
    return Topology(
        external=external,
        stack=run.stack,
        project=project,
        workloads=workloads,
        secrets=secrets,
        database=_database(by_type, plain, out),
        cache=_cache(by_type, plain, out),
        topics=_topics(by_type, plain),
        subscriptions=_subscriptions(by_type, plain),
        scheduler=_scheduler(by_type, plain),
        entry=_entry(by_type, plain, out, workloads),
        task_queues=_task_queues(by_type, plain),
        act_as=_act_as(by_type, plain),
        metric_descriptors={
            str(i["type"]): {
                "metricKind": i["metricKind"],
                "valueType": i["valueType"],
                "labels": [label["key"] for label in i.get("labels") or []],
            }
            for i in map(plain, by_type.get(METRIC_DESCRIPTOR, []))
        },
        metric_writers={
            str(i["member"]) for i in map(plain, by_type.get(PROJECT_IAM, [])) if i["role"] == METRIC_WRITER
        },
    )


def _database(by_type, plain, out) -> Database | None:
    instances = by_type.get(SQL_INSTANCE, [])
    primary = [r for r in instances if not plain(r).get("masterInstanceName")]
    if not primary:
        return None
    instance = primary[0]
    name = plain(instance)["name"]
    user = next(plain(r) for r in by_type.get(SQL_USER, []) if plain(r)["instance"] == name)
    database = next(plain(r) for r in by_type.get(SQL_DATABASE, []) if plain(r)["instance"] == name)
    ip_config = plain(instance)["settings"].get("ipConfiguration") or {}
    return Database(
        address=f"{out(instance)['privateIpAddress']}:5432",
        user=user["name"],
        password=user["password"],
        name=database["name"],
        # https://cloud.google.com/sql/docs/postgres/configure-ssl-instance#enforcing-ssl
        tls_required=ip_config.get("sslMode") in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"),
        server_name=f"{plain(instance).get('project')}:{name}",
    )


def _cache(by_type, plain, out) -> Cache | None:
    instances = by_type.get(REDIS, [])
    if not instances:
        return None
    i, o = plain(instances[0]), out(instances[0])
    return Cache(
        address=f"{o['host']}:{o['port']}",
        auth=bool(i.get("authEnabled")),
        tls=i.get("transitEncryptionMode") == "SERVER_AUTHENTICATION",
        password=o.get("authString") if i.get("authEnabled") else None,
    )


def _topics(by_type, plain) -> dict[str, set[str]]:
    topics = {f"projects/{plain(r)['project']}/topics/{plain(r)['name']}": set() for r in by_type.get(TOPIC, [])}
    for r in by_type.get(TOPIC_IAM, []):
        i = plain(r)
        if i["role"] == "roles/pubsub.publisher" and i["topic"] in topics:
            topics[i["topic"]].add(i["member"])
    return topics


def _seconds(value: str | None, default: float) -> float:
    return float(str(value).rstrip("s")) if value else default


def _subscriptions(by_type, plain) -> dict[str, Subscription]:
    subscribers: dict[str, set[str]] = {}
    for r in by_type.get(SUBSCRIPTION_IAM, []):
        i = plain(r)
        if i["role"] == "roles/pubsub.subscriber":
            subscribers.setdefault(str(i["subscription"]).rsplit("/", 1)[-1], set()).add(i["member"])
    subs: dict[str, Subscription] = {}
    for r in by_type.get(SUBSCRIPTION, []):
        i = plain(r)
        push = i.get("pushConfig") or {}
        oidc = push.get("oidcToken") or {}
        dead = i.get("deadLetterPolicy") or {}
        retry = i.get("retryPolicy") or {}
        name = f"projects/{i['project']}/subscriptions/{i['name']}"
        subs[name] = Subscription(
            name=name,
            topic=i["topic"],
            ack_deadline=int(i.get("ackDeadlineSeconds", 10)),
            push_endpoint=push.get("pushEndpoint"),
            push_identity=oidc.get("serviceAccountEmail"),
            push_audience=oidc.get("audience") or push.get("pushEndpoint"),
            dead_letter_topic=dead.get("deadLetterTopic"),
            max_attempts=int(dead["maxDeliveryAttempts"]) if dead.get("maxDeliveryAttempts") else None,
            min_backoff=_seconds(retry.get("minimumBackoff"), 10.0),
            max_backoff=_seconds(retry.get("maximumBackoff"), 600.0),
            subscribers=subscribers.get(i["name"], set()),
            filter=i.get("filter") or None,
        )
    return subs


def _task_queues(by_type, plain) -> dict[str, Queue]:
    enqueuers: dict[tuple[str, str], set[str]] = {}
    for r in by_type.get(TASK_QUEUE_IAM, []):
        i = plain(r)
        if i["role"] == "roles/cloudtasks.enqueuer":
            enqueuers.setdefault((i["location"], str(i["name"]).rsplit("/", 1)[-1]), set()).add(i["member"])
    queues: dict[str, Queue] = {}
    for r in by_type.get(TASK_QUEUE, []):
        i = plain(r)
        retry, rate = i.get("retryConfig") or {}, i.get("rateLimits") or {}
        name = f"projects/{i['project']}/locations/{i['location']}/queues/{i['name']}"
        queues[name] = Queue(
            name=name,
            max_attempts=int(retry.get("maxAttempts", 100)),
            min_backoff=_seconds(retry.get("minBackoff"), 0.1),
            max_backoff=_seconds(retry.get("maxBackoff"), 3600.0),
            max_doublings=int(retry.get("maxDoublings", 16)),
            max_dispatches_per_second=float(rate.get("maxDispatchesPerSecond", 500)),
            max_concurrent_dispatches=int(rate.get("maxConcurrentDispatches", 1000)),
            enqueuers=frozenset(enqueuers.get((i["location"], i["name"]), set())),
        )
    return queues


def _act_as(by_type, plain) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for r in by_type.get(ACCOUNT_IAM, []):
        i = plain(r)
        if i["role"] == "roles/iam.serviceAccountUser":
            grants.setdefault(str(i["serviceAccountId"]).rsplit("/", 1)[-1], set()).add(i["member"])
    return grants


def _scheduler(by_type, plain) -> dict[str, SchedulerJob]:
    jobs: dict[str, SchedulerJob] = {}
    for r in by_type.get(SCHEDULER_JOB, []):
        i = plain(r)
        target = i["httpTarget"]
        oidc = target.get("oidcToken") or {}
        jobs[i["name"]] = SchedulerJob(
            name=i["name"],
            uri=target["uri"],
            method=target.get("httpMethod", "POST"),
            body=base64.b64decode(target["body"]) if target.get("body") else b"",
            identity=oidc.get("serviceAccountEmail"),
            audience=oidc.get("audience") or target["uri"],
        )
    return jobs


def _entry(by_type, plain, out, workloads: dict[str, Workload]) -> LoadBalancer | ApiGateway | None:
    if by_type.get(API_CONFIG):
        configs = {_id(r, out): plain(r) for r in by_type[API_CONFIG]}
        gateways = []
        for gateway in by_type[API_GATEWAY]:
            config = configs[plain(gateway)["apiConfig"]]
            document = config["openapiDocuments"][0]["document"]["contents"]
            gateways.append(
                ApiGateway(
                    hostname=out(gateway)["defaultHostname"],
                    service_account=config["gatewayConfig"]["backendConfig"]["googleServiceAccount"],
                    openapi=json.loads(base64.b64decode(document)),
                )
            )
        # The entry is the gateway that checks callers (the other only serves auth's keys to Google).
        gateways.sort(key=lambda g: "securityDefinitions" not in g.openapi)
        main, *others = gateways
        main.others = others
        return main
    proxies = by_type.get(HTTPS_RULE_PROXY, [])
    if not proxies:
        return None
    https_map = plain(proxies[0])["urlMap"]
    url_map = next(r for r in by_type[URL_MAP] if _id(r, out) == https_map)
    negs = {_id(r, out): plain(r) for r in by_type.get(NEG, [])}
    policies = {_id(r, out): plain(r) for r in by_type.get(SECURITY_POLICY, [])}
    by_resource = {w.resource_name: w.name for w in workloads.values()}
    backends: dict[str, str] = {}
    armor: dict[str, list[ArmorRule]] = {}
    for r in by_type.get(BACKEND_SERVICE, []):
        i = plain(r)
        neg = negs[i["backends"][0]["group"]]
        target = (neg.get("cloudRun") or {}).get("service") or (neg.get("cloudFunction") or {}).get("function")
        if (neg.get("cloudRun") or {}).get("tag"):
            continue  # candidate revisions: the local cloud runs one revision per service
        backends[_id(r, out)] = by_resource[target]
        if i.get("securityPolicy") in policies:
            armor[by_resource[target]] = _armor_rules(policies[i["securityPolicy"]])
    m = plain(url_map)
    routes = []
    for host_rule in m.get("hostRules", []):
        matcher = next(p for p in m["pathMatchers"] if p["name"] == host_rule["pathMatcher"])
        if matcher["defaultService"] not in backends:
            continue  # the candidate host: not run locally
        routes.append(
            LbRoute(
                hosts=list(host_rule["hosts"]),
                paths=[(list(p["paths"]), backends[p["service"]]) for p in matcher.get("pathRules", [])],
                default=backends[matcher["defaultService"]],
            )
        )
    domains = [d for r in by_type.get(CERTIFICATE, []) for d in plain(r)["managed"]["domains"]]
    address = next(
        (out(r)["address"] for r in by_type.get(GLOBAL_ADDRESS, []) if plain(r).get("addressType") == "EXTERNAL"), ""
    )
    return LoadBalancer(address=address, domains=domains, routes=routes, armor=armor)


def _id(r: Registration, out) -> str:
    """The resource's ID as other resources reference it (the fake cloud's self-link-shaped ID)."""
    assert r.revealed is not None
    return str(r.revealed["id"])


def _armor_rules(policy: dict[str, Any]) -> list[ArmorRule]:
    rules = []
    for rule in sorted(policy.get("rules", []), key=lambda x: int(x["priority"])):
        match = rule.get("match") or {}
        ranges = (match.get("config") or {}).get("srcIpRanges") if match.get("versionedExpr") == "SRC_IPS_V1" else None
        limit = rule.get("rateLimitOptions")
        rules.append(
            ArmorRule(
                priority=int(rule["priority"]),
                action=rule["action"],
                src_ranges=list(ranges) if ranges is not None else None,
                rate_limit=(
                    int(limit["rateLimitThreshold"]["count"]),
                    int(limit["rateLimitThreshold"]["intervalSec"]),
                    int(limit.get("banDurationSec", 0)),
                )
                if limit
                else None,
            )
        )
    return rules


def _function_source(archive: Any) -> Path:
    """The directory holding a function's ``main.py``, from the archive its BucketObject uploads: a FileArchive of
    the directory, or an AssetArchive of its files plus shared modules (``app/common/logging.py``), which the
    local cloud's workloads import from the repository root they run in."""
    if isinstance(archive, pulumi.FileArchive):
        return Path(archive.path)
    return Path(archive.assets["main.py"].path).parent
