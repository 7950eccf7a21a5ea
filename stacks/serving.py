"""The serving layer: images, Cloud Run services and job, functions, the public gateway, messaging, monitoring.

Deploys the bundled apps from app/ onto the foundation (stacks/program.py). Routing is docs/design.md §7's:
``/auth/*`` -> auth, ``/ai/*`` -> ai, ``/fn/<name>/*`` -> functions (ml-analytics: its user endpoint only),
everything else -> api.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from components.compute import (
    CloudFunction,
    CloudFunctionArgs,
    CloudRunJob,
    CloudRunJobArgs,
    CloudRunService,
    CloudRunServiceArgs,
    FunctionBuilds,
    FunctionBuildsArgs,
    FunctionSize,
    FunctionSourceBucket,
    ServiceImage,
    ServiceImageArgs,
    ServiceSize,
)
from components.compute.functions import FunctionSourceBucketArgs
from components.gateway import (
    ApiGateway,
    ApiGatewayArgs,
    ArmorArgs,
    ArmorPolicy,
    Backend,
    EdgeArgs,
    HttpsLoadBalancer,
    LoadBalancerArgs,
)
from components.identity import SigningKey, SigningKeyArgs
from components.messaging import (
    EventBus,
    EventBusArgs,
    PullSubscriptionArgs,
    ScheduledJobArgs,
    Scheduler,
    SchedulerArgs,
    TaskQueue,
    TaskQueueArgs,
    type_filter,
)
from components.monitoring import CostCap, CostCapArgs, Monitoring, MonitoringArgs
from components.secrets import own_grants
from gridlib.config_base import narrow
from gridlib.labels import BACKGROUND_LABEL
from stacks import capacity
from stacks.config import BACKGROUND_WORK, ServiceConfig, StackConfig
from stacks.routes import PROBES, Route, routes_of
from stacks.service_env import (
    ACCESS_TOKEN_AUDIENCE,
    ACCESS_TOKEN_ISSUER,
    AiTasks,
    EnvSources,
    Jwks,
    WorkloadSources,
    function_env,
    service_env,
    workload_env,
)
from stacks.workloads import Workload, event_consumers, reading, source_path

REPO_ROOT = Path(__file__).resolve().parent.parent

# What the functions share with the services (standard library only, psycopg for pgconnect, flask-cors for cors),
# packed into each function's source at the same import path: logging as the services do, CORS as they answer it,
# the caching policy, the client IP, the in-process rate and how a Postgres URL is connected (server CA, pooler).
FUNCTION_SHARED_FILES = (
    "app/__init__.py",
    "app/common/__init__.py",
    "app/common/logging.py",
    "app/common/caching.py",
    "app/common/clientip.py",
    "app/common/localrate.py",
    "app/common/pgconnect.py",
    "app/common/cors.py",
)
COST_CAP = "cost-cap"
AI_INDEXER = "ai-indexer"
AI_PUSH_PATH = "/ai/events/pubsub"  # app/ai/routes.py
JWKS_PATH = "/auth/.well-known/jwks.json"  # app/auth/routes.py: auth's public keys
AI_TASKS_PATH = "/ai/tasks/reindex"  # app/ai/tasks.py REINDEX_PATH (tests/stacks/test_serving.py compares them)


def _function_shared_files() -> dict[str, Path]:
    return {name: REPO_ROOT / name for name in FUNCTION_SHARED_FILES}


def source_dir(workload: Workload) -> Path:
    """Where ``workload``'s source is (stacks/workloads.py source_path; the config has checked it exists)."""
    found = source_path(workload, Path(pulumi.get_root_directory()))
    assert found is not None, f"{workload.name}: source {workload.source} was not checked"
    return found


def _images(config: StackConfig, base) -> dict[str, pulumi.Input[str]]:
    """Image reference by digest for each image the services and jobs run (migrations runs the api image)."""
    running = [w for w in config.workloads if w.kind in ("service", "job")]
    if config.images.source == "prebuilt":
        return {w.name: config.images.prebuilt[w.image_name] for w in running}
    host = f"{config.region}-docker.pkg.dev"
    refs: dict[str, pulumi.Input[str]] = {}
    for workload in (w for w in running if w.image is None):
        target = None
        if workload.name == "ai":
            target = "cuda" if config.services.ai.gpu else "cpu"
        image = ServiceImage(
            base.names(f"{workload.name}-image"),
            ServiceImageArgs(
                service=workload.name,
                # An own workload builds from the tree its source is in (the project's, or Grid's for jobs/*).
                repo_root=REPO_ROOT
                if workload.bundled
                else source_dir(workload).parents[len(Path(workload.source).parts) - 1],
                registry_url=base.registry.url,
                registry_host=host,
                target=target,
                source_dir=None if workload.bundled else source_dir(workload),
            ),
            opts=base.opts,
        )
        refs[workload.name] = image.ref
    for workload in (w for w in running if w.image is not None):
        refs[workload.name] = refs[workload.image]
    return refs


@dataclass
class Exposure:
    """How services are reached, which follows from the gateway type."""

    run_ingress: str
    function_ingress: str
    public: bool
    """Unauthenticated invocation is allowed (only behind the load balancer, which Armor guards)."""
    trusted_proxy_hops: int
    user_auth_header: str
    """The header the services read the caller's access token from (USER_AUTH_HEADER)."""


def _exposure(gateway_type: str) -> Exposure:
    if gateway_type == "loadBalancer":
        # Only the load balancer can reach the services; it appends the client and its own address to XFF.
        return Exposure("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "ALLOW_INTERNAL_AND_GCLB", True, 2, "Authorization")
    if gateway_type == "apiGateway":
        # API Gateway calls its x-google-backend with its own Google-signed ID token (jwt_audience) in
        # Authorization and passes the caller's header on as X-Forwarded-Authorization
        # (https://cloud.google.com/api-gateway/docs/securing-backend-services,
        # https://cloud.google.com/endpoints/docs/openapi/openapi-extensions#jwt_audience_disable_auth). Trusting
        # that header is safe only because the services are private: Cloud Run IAM admits the gateway's identity
        # and the platform's own (api/ai fetching auth's keys, Cloud Tasks), never allUsers, so no client can
        # reach them but through the gateway, which sets X-Forwarded-Authorization from the caller's Authorization.
        return Exposure("INGRESS_TRAFFIC_ALL", "ALLOW_ALL", False, 1, "X-Forwarded-Authorization")
    # none: services keep their run.app URL but only trusted identities may invoke.
    return Exposure("INGRESS_TRAFFIC_ALL", "ALLOW_ALL", False, 1, "Authorization")


def serving(config: StackConfig, base) -> dict[str, pulumi.Input | None]:
    """Compose the serving layer on ``base`` (a stacks.program.Foundation); returns its stack outputs."""
    names, ids, opts = base.names, base.identities, base.opts
    prod = config.environment == "prod"
    exposure = _exposure(config.gateway.type)
    images = _images(config, base)
    project_number = gcp.organizations.get_project_output(project_id=config.project).number

    # Access tokens are signed by auth with this key; other services verify with the published public key.
    signing_key = SigningKey(
        names("jwt-signing-key"),
        SigningKeyArgs(
            secret_id=names.secret("jwt-signing-key"),
            readers={"auth": ids.members["auth"]},
            labels={"component": "secrets"},
            config=config.signing_key,
        ),
        opts=opts,
    )

    invoker_members: dict[str, pulumi.Input[str]] = {}
    if config.gateway.type == "apiGateway":
        invoker_members["gateway"] = ids.members["gateway"]
    # Behind the load balancer, Cloud Run services turn the invoker IAM check off instead of granting allUsers,
    # which Domain Restricted Sharing (the default for new organisations) refuses:
    # https://cloud.google.com/run/docs/authenticating/public#invoker_check. The Cloud Functions v2 API has no
    # such setting, so functions behind the load balancer still need the allUsers grant.
    function_invokers = {**invoker_members, **({"public": "allUsers"} if exposure.public else {})}

    # Functions first: the event bus pushes to ml-analytics and the scheduler calls it.
    bucket = FunctionSourceBucket(
        names("fn-src"), FunctionSourceBucketArgs(project=config.project, region=config.region), opts=opts
    )
    builds = FunctionBuilds(
        names("fn-build"),
        FunctionBuildsArgs(
            project=config.project,
            region=config.region,
            repository_id=names.function_repository,
            source_bucket=bucket.name,
            account_name=ids.account_ids["fn-build"],
            member=ids.members["fn-build"],
        ),
        opts=opts,
    )
    interface = base.network.function_network_interface()
    database_url = base.database.url_secret.ref
    functions: dict[str, CloudFunction] = {}
    pools = capacity.plan_pools(config)
    shared = WorkloadSources(
        environment=config.environment,
        project=config.project,
        database_url=database_url,
        database_ca_cert=base.database.server_ca_cert,
        redis_url=base.cache.url_secret.ref if base.cache else None,
        redis_ca_cert=base.cache.server_ca_cert if base.cache else None,
        # The topic's full name, known before the topic (functions come first: the bus pushes to one of them).
        events_topic=f"projects/{config.project}/topics/{names('events')}",
        db_pools=pools,
        config_secrets={key: secret.ref for key, secret in base.config_secrets.items()},
        metrics_export_interval_seconds=config.monitoring.metrics_export_interval_seconds,
        pushed_to=frozenset(consumer.name for consumer, _, _ in event_consumers(config.workloads)),
        push_audience=_push_audience(names),
        push_invoker_email=ids.emails["invoker"],
    )
    for spec in config.workloads_of("function"):
        if spec.bundled:
            env = function_env(
                spec.name,
                config.environment,
                database_url,
                pools.get(spec.name),
                exposure.trusted_proxy_hops,
                base.database.server_ca_cert,
                config.gateway.allowed_origins,
            )
        else:
            env = workload_env(spec, shared)
        functions[spec.name] = CloudFunction(
            names(f"fn-{spec.name}"),
            CloudFunctionArgs(
                function_name=names(spec.name),
                source_dir=source_dir(spec),
                shared_files=_function_shared_files(),
                entry_point=spec.entry_point,
                bucket=bucket.name,
                region=config.region,
                project=config.project,
                config=narrow(config.settings_of(spec), FunctionSize),
                service_account=ids.emails[spec.name],
                builds=builds,
                ingress=exposure.function_ingress,
                network_interface=interface,
                env=env.plain,
                secret_env=env.secrets,
                invokers={**function_invokers, **{who: ids.members[who] for who in spec.invokers}},
                labels={"grid-service": spec.name},
                depends_on=own_grants(spec.name, env.secrets.values()),
            ),
            opts=opts,
        )
    analytics = functions.get("ml-analytics")

    events = EventBus(
        names("events"),
        EventBusArgs(
            config=config.messaging,
            project=config.project,
            service_agent=base.agents.members["pubsub.googleapis.com"],
            topic_name=names("events"),
            push_endpoint=pulumi.Output.concat(analytics.uri, "/fn/ml-analytics/events"),
            push_invoker_email=ids.emails["invoker"],
            push_audience=analytics.uri,
            publishers={w: ids.members[w] for w in reading(config.workloads, "events")},
            pull_subscriptions=[
                *(
                    [_ai_indexer_subscription(config, names, ids, project_number)]
                    if "ai" in config.services and config.services.ai.enabled
                    else []
                ),
                *_event_subscriptions(config, names, project_number),
            ],
        ),
        opts=opts,
    )
    ai_queue = None
    if "ai" in ids.members:
        ai_queue = TaskQueue(
            names("ai-tasks"),
            TaskQueueArgs(
                config=config.messaging.tasks,
                project=config.project,
                region=config.region,
                # Only ai: it decides, runs and paces the deferred AI work (app/ai/tasks.py); api has no use for it.
                enqueuers={"ai": ids.members["ai"]},
            ),
            opts=opts,
        )

    services: dict[str, CloudRunService] = {}
    sources = _env_sources(config, base, signing_key, exposure, events)
    if ai_queue is not None:
        sources.ai_tasks = AiTasks(
            queue=ai_queue.queue_id,
            target_url=pulumi.Output.concat(_run_url(config, names, "ai", project_number), AI_TASKS_PATH),
            invoker=ids.emails["invoker"],
            audience=_push_audience(names),
        )
    jwks: Jwks | None = None
    pushed_to = shared.pushed_to
    for spec in config.workloads_of("service"):  # auth first: the others verify tokens against its published keys
        service = spec.name
        env = service_env(spec, sources, jwks) if spec.bundled else workload_env(spec, shared)
        callers = {**invoker_members, **{who: ids.members[who] for who in spec.invokers}}
        if service in pushed_to:  # its push subscriptions deliver as the invoker
            callers["invoker"] = ids.members["invoker"]
        if service == "auth" and not exposure.public and not config.gateway.serves_domains:
            # Without a public hostname the services that verify tokens fetch the JWKS from auth's own URL.
            # Those are the workloads that need auth (the registry's needs), i.e. api and ai.
            callers.update({w.name: ids.members[w.name] for w in config.workloads if "auth" in w.needs})
        services[service] = CloudRunService(
            names(service),
            CloudRunServiceArgs(
                service_name=names(service),
                region=config.region,
                project=config.project,
                image=images[service],
                config=narrow(_with_background_work(service, config.settings_of(spec)), ServiceSize),
                service_account=ids.emails[service],
                vpc_access=base.network.service_vpc_access(),
                ingress=exposure.run_ingress,
                env=env.plain,
                secret_env=env.secrets,
                invokers=callers,
                invoker_iam_disabled=exposure.public,
                deletion_protection=prod,
                labels={"grid-service": service, **config.rollout.labels(service), **_background_label(service)},
                # The audience of ai's pushes and tasks: Cloud Run accepts the tokens, and ai checks it again.
                custom_audiences=[_push_audience(names)] if service == "ai" or service in pushed_to else [],
                depends_on=own_grants(service, env.secrets.values()),
                candidate_tag=config.rollout.candidate_tag if config.rollout.strategy == "tagged" else None,
                stable_revision=config.rollout.stable.get(service) if config.rollout.strategy == "tagged" else None,
            ),
            opts=opts,
        )
        if service == "auth":
            jwks = _jwks(config, services["auth"].uri)
    jobs: dict[str, CloudRunJob] = {}
    schedules = [
        ScheduledJobArgs(
            name="daily-report",
            schedule=config.messaging.analytics_schedule,
            time_zone=config.messaging.time_zone,
            uri=pulumi.Output.concat(analytics.uri, "/fn/ml-analytics/report"),
            invoker_email=ids.emails["invoker"],
            audience=analytics.uri,
            description="Daily usage report: flags anomalous per-user usage.",
        )
    ]
    for spec in config.workloads_of("job"):
        env = service_env(spec, sources) if spec.bundled else workload_env(spec, shared)
        settings = config.settings_of(spec)
        # The migrations job kept the component name it had before the registry: its URN is state.
        job_name = names("migrate") if spec.name == "migrations" else names(spec.name)
        jobs[spec.name] = CloudRunJob(
            job_name,
            CloudRunJobArgs(
                job_name=job_name,
                region=config.region,
                project=config.project,
                image=images[spec.name],
                command=spec.command,
                service_account=ids.emails[spec.name],
                vpc_access=base.network.service_vpc_access(),
                env=env.plain,
                secret_env=env.secrets,
                cpu=f"{settings.cpu:g}",
                memory=settings.memory,
                timeout_seconds=settings.timeout_seconds,
                max_retries=settings.max_retries,
                deletion_protection=prod,
                labels={"grid-service": spec.name},
                # Cloud Scheduler runs the job through the Run Admin API as the invoker identity, which needs
                # run.jobs.run on this job only: https://cloud.google.com/run/docs/execute/jobs-on-schedule
                invokers={"invoker": ids.members["invoker"]} if spec.schedule else {},
                depends_on=own_grants(spec.name, env.secrets.values()),
            ),
            opts=opts,
        )
        if spec.schedule:
            schedules.append(
                ScheduledJobArgs(
                    name=spec.name,
                    schedule=spec.schedule,
                    time_zone=config.messaging.time_zone,
                    uri=pulumi.Output.concat(
                        "https://run.googleapis.com/v2/projects/",
                        config.project,
                        "/locations/",
                        config.region,
                        "/jobs/",
                        jobs[spec.name].name,
                        ":run",
                    ),
                    invoker_email=ids.emails["invoker"],
                    google_api=True,
                    description=f"Runs the Cloud Run job {spec.name}.",
                )
            )
    Scheduler(
        names("schedules"),
        SchedulerArgs(project=config.project, region=config.region, jobs=schedules),
        opts=opts,
    )

    routes = routes_of(config.workloads)
    backends = [_backend(route, services, functions, config) for route in routes]
    outputs: dict[str, pulumi.Input | None] = {
        "serviceUrls": {name: s.uri for name, s in services.items()},
        "serviceRevisions": {name: s.latest_revision for name, s in services.items()},
        "functionUrls": {name: f.uri for name, f in functions.items()},
        "migrationJob": jobs["migrations"].name,
        **({"jobs": {name: j.name for name, j in jobs.items()}} if len(jobs) > 1 else {}),
        "eventsTopic": events.topic_id,
        "aiTaskQueue": ai_queue.queue_id if ai_queue else None,
        "gateway": config.gateway.type,
    }
    gateway_outputs = _gateway(config, base, backends)
    outputs.update(gateway_outputs)
    # Public health path of each service, behind the gateway's routing.
    health = {w.name: w.health for w in config.workloads_of("service") if w.health}
    monitoring = Monitoring(
        names("monitoring"),
        MonitoringArgs(
            config=config.monitoring,
            project=config.project,
            project_number=project_number,
            environment=config.environment,
            display_prefix=names.prefix,
            endpoints=[
                (route, host, path)
                for host in gateway_outputs["gatewayHosts"][:1]
                for route, path in health.items()
                if not scales_to_zero_on_gpu(config.services[route])
            ],
            scale_to_zero=[route for route in health if config.services[route].min_instances == 0],
            region=config.region,
            run_services={name: s.name for name, s in services.items()},
            functions={name: f.name for name, f in functions.items()},
            sql_database_ids=[pulumi.Output.concat(config.project, ":", base.database.instance_name)]
            if base.database.instance_name is not None
            else [],
            redis_instance_id=base.cache.instance_id if base.cache else None,
            budget_topic_id=_cost_cap(config, base, bucket, builds),
            slack_auth_token=base.config_secret_values.get("slackAuthToken"),
            slack_channel=config.monitoring.slack_channel,
            pagerduty_routing_key=base.config_secret_values.get("pagerdutyRoutingKey"),
        ),
        opts=opts,
    )
    outputs["alertPolicies"] = monitoring.alert_policy_names
    outputs["dashboard"] = monitoring.dashboard_id
    outputs["budget"] = monitoring.budget_id
    return outputs


def _delivery(workload: str) -> str | None:
    return BACKGROUND_WORK[workload][1] if workload in BACKGROUND_WORK else None


def _background_label(workload: str) -> dict[str, str]:
    """``grid-background: <work>`` on a service that runs a loop between requests (the policy reads it)."""
    return {BACKGROUND_LABEL: BACKGROUND_WORK[workload][0]} if _delivery(workload) == "background" else {}


def _with_background_work(workload: str, service: ServiceConfig) -> ServiceConfig:
    """A loop between requests needs CPU between requests and an instance to run on."""
    if _delivery(workload) != "background":
        return service
    return service.model_copy(update={"cpu_idle": False, "min_instances": max(1, service.min_instances)})


def _push_audience(names) -> str:
    """The OIDC audience of pushes to ai: fixed, so ai's own settings need not wait for its URL."""
    return names(AI_INDEXER)


def _run_url(config: StackConfig, names, service: str, project_number: pulumi.Input[str]) -> pulumi.Output[str]:
    """Cloud Run's deterministic URL of a service, known before the service exists (ai's own settings name it):
    https://<service>-<project number>.<region>.run.app (https://cloud.google.com/run/docs/triggering/https-request#deterministic)"""
    return pulumi.Output.concat("https://", names(service), "-", project_number, ".", config.region, ".run.app")


def _event_subscriptions(config: StackConfig, names, project_number) -> list[PullSubscriptionArgs]:
    """One push subscription per event type a workload consumes and another publishes (the scraper's item.scraped
    to ai), filtered to that type: each is a resource of its own, since a subscription's filter cannot change once
    it exists (https://cloud.google.com/pubsub/docs/subscription-message-filter). Pushed with the invoker's OIDC
    token for the audience the receiving service accepts and checks, as ai's message pushes are."""
    return [
        PullSubscriptionArgs(
            name=f"{consumer.name}-{event.replace('.', '-')}",
            push_endpoint=pulumi.Output.concat(_run_url(config, names, consumer.name, project_number), path),
            push_audience=_push_audience(names),
            filter=type_filter(event),
        )
        for consumer, event, path in event_consumers(config.workloads)
    ]


def _ai_indexer_subscription(config: StackConfig, names, ids, project_number) -> PullSubscriptionArgs:
    """message.created for the ai indexer: pushed to ai (a request, no CPU between requests) or pulled by ai."""
    if _delivery("ai") != "push":
        return PullSubscriptionArgs(name=AI_INDEXER, subscribers={"ai": ids.members["ai"]})
    endpoint = pulumi.Output.concat(_run_url(config, names, "ai", project_number), AI_PUSH_PATH)
    return PullSubscriptionArgs(name=AI_INDEXER, push_endpoint=endpoint, push_audience=_push_audience(names))


def scales_to_zero_on_gpu(service: ServiceConfig) -> bool:
    """No uptime check on such a service: a check every period keeps a GPU instance (billed per instance-second)
    up around the clock, and a cold start (loading a model onto the GPU) times the check out and pages.
    https://cloud.google.com/run/docs/configuring/services/gpu#pricing"""
    return bool(service.gpu) and service.min_instances == 0


def _backend(
    route: Route, services: dict[str, CloudRunService], functions: dict[str, CloudFunction], config: StackConfig
) -> Backend:
    """The gateway backend of one public route (stacks/routes.py); the CDN fronts the routes with something to cache."""
    if route.workload in services:
        target, kind, key = services[route.workload], "run", route.workload
        timeout = config.services[route.workload].timeout_seconds
    else:
        target, kind, key = functions[route.workload], "function", f"fn-{route.workload}"
        timeout = config.functions[route.workload].timeout_seconds
    cdn = config.gateway.cdn
    return Backend(
        key,
        kind,
        target.name,
        route.prefix,
        target.uri,
        cdn=cdn and route.cached,
        public_paths=route.public_paths,
        user_token=route.user_token,
        probe_paths=[f"{route.prefix or ''}{probe}" for probe in PROBES] if kind == "run" else [],
        timeout_seconds=timeout,
    )


def _jwks(config: StackConfig, auth_uri: pulumi.Input[str]) -> Jwks:
    """Where api and ai fetch auth's public keys: the public hostname, else auth's own URL (they may invoke it).

    auth's own URL is private (not allUsers): Cloud Run IAM refuses a call without a Google-signed ID token for
    that URL, so the audience goes with it (https://cloud.google.com/run/docs/authenticating/service-to-service).
    """
    if config.gateway.serves_domains:
        return Jwks(f"https://{config.gateway.domains[0]}{JWKS_PATH}", None)
    return Jwks(pulumi.Output.concat(auth_uri, JWKS_PATH), auth_uri)


def _env_sources(
    config: StackConfig, base, signing_key: SigningKey, exposure: Exposure, events: EventBus
) -> EnvSources:
    completion = base.config_secrets.get("completionApiKey")
    return EnvSources(
        environment=config.environment,
        project=config.project,
        database_url=base.database.url_secret.ref,
        database_ca_cert=base.database.server_ca_cert,
        redis_url=base.cache.url_secret.ref if base.cache else None,
        redis_ca_cert=base.cache.server_ca_cert if base.cache else None,
        jwt_signing_key=signing_key.secret.ref,
        jwt_previous_public_keys=signing_key.previous_public_key_pems,
        events_topic=events.topic_id,
        # Without ai (grid:services.ai.enabled: false) there is no indexer subscription, and no ai to read it.
        ai_subscription=pulumi.Output.concat(
            "projects/", config.project, "/subscriptions/", events.pull_subscription_names[AI_INDEXER]
        )
        if AI_INDEXER in events.pull_subscription_names
        else "",
        ai_push_audience=_push_audience(base.names) if _delivery("ai") == "push" else None,
        push_invoker_email=base.identities.emails["invoker"],
        completion_base_url=config.completion.base_url,
        completion_model=config.completion.model,
        api_timeout_seconds=config.services.api.timeout_seconds,
        metrics_export_interval_seconds=config.monitoring.metrics_export_interval_seconds,
        completion_api_key=completion.ref if completion else None,
        trusted_proxy_hops=exposure.trusted_proxy_hops,
        user_auth_header=exposure.user_auth_header,
        db_pools=capacity.plan_pools(config),
        cors_allowed_origins=tuple(config.gateway.allowed_origins),
    )


def _gateway(config: StackConfig, base, backends: list[Backend]) -> dict[str, pulumi.Input | None]:
    names, opts, gw = base.names, base.opts, config.gateway
    if gw.type == "loadBalancer":
        armor = ArmorPolicy(names("armor"), ArmorArgs(config=gw.armor, project=config.project), opts=opts)
        lb = HttpsLoadBalancer(
            names("lb"),
            LoadBalancerArgs(
                project=config.project,
                region=config.region,
                domains=gw.domains,
                backends=backends,
                security_policy=armor.id if gw.armor.enabled else None,
                ssl_profile=gw.ssl_profile,
                candidate_tag=config.rollout.candidate_tag if config.rollout.strategy == "tagged" else None,
            ),
            opts=opts,
        )
        return {"gatewayAddress": lb.ip_address, "gatewayHosts": list(gw.domains), "candidateHost": lb.candidate_host}
    if gw.type == "apiGateway":
        api = ApiGateway(
            names("gw"),
            ApiGatewayArgs(
                project=config.project,
                region=config.region,
                backends=backends,
                service_account=base.identities.emails["gateway"],
                edge=EdgeArgs(
                    issuer=ACCESS_TOKEN_ISSUER,
                    audience=ACCESS_TOKEN_AUDIENCE,
                    jwks_backend="auth",
                    jwks_path=JWKS_PATH,
                    quota_per_minute=gw.quota_per_minute,
                    allowed_origins=tuple(gw.allowed_origins),
                ),
            ),
            opts=opts,
        )
        return {
            "gatewayAddress": api.hostname,
            "gatewayHosts": [api.hostname],
            "candidateHost": None,
            # Where Google fetches auth's public keys to check users' tokens, and the service API keys target.
            "gatewayJwksUri": api.jwks_uri,
            "gatewayManagedService": api.managed_service,
        }
    return {"gatewayAddress": None, "gatewayHosts": [], "candidateHost": None}


def _cost_cap(
    config: StackConfig, base, bucket: FunctionSourceBucket, builds: FunctionBuilds
) -> pulumi.Input[str] | None:
    """The budget's topic, when the stack stops its services at the budget (dev)."""
    if not config.monitoring.budget.caps_spend:
        return None
    cap = CostCap(
        base.names(COST_CAP),
        CostCapArgs(
            project=config.project,
            region=config.region,
            stack_label=base.names.prefix,
            services=[base.names(w.name) for w in config.workloads if w.kind != "job"],
            source_dir=REPO_ROOT / "app" / "functions" / "cost_cap",
            shared_files=_function_shared_files(),
            bucket=bucket.name,
            service_account=base.identities.emails[COST_CAP],
            member=base.identities.members[COST_CAP],
            builds=builds,
            trigger_agents=[*base.agents.ready["eventarc.googleapis.com"], *base.agents.ready["pubsub.googleapis.com"]],
        ),
        opts=base.opts,
    )
    return cap.topic_id
