"""The serving layer as the program registers it: services, functions, gateway, messaging, per environment."""

from __future__ import annotations

import pytest

RUN = "gcp:cloudrunv2/service:Service"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"


def container(service) -> dict:
    [c] = service.inputs["template"]["containers"]
    return c


def env_of(service) -> dict[str, dict]:
    return {e["name"]: e for e in container(service).get("envs", [])}


@pytest.fixture(scope="module")
def prod(request):
    return request.getfixturevalue("synth")("prod")


def test_prod_runs_three_services_with_a_correct_l4_gpu_on_ai(synth) -> None:
    plan = synth("prod")
    services = {s.inputs["labels"]["grid-service"]: s for s in plan.of_type(RUN)}
    assert set(services) == {"auth", "api", "ai"}
    ai = services["ai"]
    resources = container(ai)["resources"]
    assert resources["limits"] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert resources["cpuIdle"] is False
    template = ai.inputs["template"]
    assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert template["gpuZonalRedundancyDisabled"] is True
    assert template["executionEnvironment"] == "EXECUTION_ENVIRONMENT_GEN2"
    for name in ("auth", "api"):
        assert services[name].inputs["template"]["scaling"]["minInstanceCount"] >= 2
        assert "nodeSelector" not in services[name].inputs["template"]
    for service in services.values():
        assert service.inputs["deletionProtection"] is True
        assert service.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
        assert "@sha256:" in container(service)["image"]
        probe = container(service)["startupProbe"]["httpGet"]
        assert probe["path"] == "/health"
        assert container(service)["livenessProbe"]["httpGet"]["path"] == "/health"


def test_dev_scales_to_zero_with_no_gpu_and_no_protection(synth) -> None:
    plan = synth("dev")
    for service in plan.of_type(RUN):
        template = service.inputs["template"]
        assert template["scaling"]["minInstanceCount"] == 0
        assert "nvidia.com/gpu" not in container(service)["resources"]["limits"]
        assert "nodeSelector" not in template
        assert container(service)["resources"]["cpuIdle"] is True
        assert service.inputs["deletionProtection"] is False
    assert plan.of_type("gcp:apigateway/gateway:Gateway")
    assert not plan.of_type("gcp:compute/globalForwardingRule:GlobalForwardingRule")


def test_prod_services_are_reachable_only_through_the_load_balancer(synth) -> None:
    plan = synth("prod")
    public = [g for g in plan.of_type(RUN_IAM) if g.inputs["member"] in ("allUsers", "allAuthenticatedUsers")]
    # Cloud Run services skip the invoker check instead of granting allUsers, which Domain Restricted Sharing
    # (the default for new organisations) refuses; the Functions v2 API has no such setting.
    for service in plan.of_type(RUN):
        assert service.inputs["invokerIamDisabled"] is True
        assert service.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert public, "the load balancer needs unauthenticated invocation of the functions"
    for grant in public:
        target = plan.by_urn(grant.parent)
        workload = next(r for r in plan.resources if r.parent == target.urn and r.type in (RUN, FUNCTION))
        assert workload.type == FUNCTION, f"{grant.name}: allUsers on a Cloud Run service"
        assert workload.inputs["serviceConfig"]["ingressSettings"] == "ALLOW_INTERNAL_AND_GCLB"


def test_services_behind_an_authenticating_gateway_keep_the_invoker_check(synth) -> None:
    plan = synth("dev")
    for service in plan.of_type(RUN):
        assert "invokerIamDisabled" not in service.inputs
    assert not [g for g in plan.of_type(RUN_IAM) if g.inputs["member"] in ("allUsers", "allAuthenticatedUsers")]


def test_no_workload_uses_the_default_compute_service_account(synth) -> None:
    for stack in ("dev", "prod"):
        plan = synth(stack)
        accounts = [s.inputs["template"]["serviceAccount"] for s in plan.of_type(RUN)]
        accounts += [f.inputs["serviceConfig"]["serviceAccountEmail"] for f in plan.of_type(FUNCTION)]
        accounts += [j.inputs["template"]["template"]["serviceAccount"] for j in plan.of_type("gcp:cloudrunv2/job:Job")]
        assert len(accounts) == len(set(accounts)) >= 6  # one identity per workload, never shared
        assert all(a.endswith(".iam.gserviceaccount.com") and "-compute@developer" not in a for a in accounts)


def test_no_project_level_basic_roles(synth) -> None:
    plan = synth("prod")
    roles = {m.inputs["role"] for m in plan.of_type("gcp:projects/iAMMember:IAMMember")}
    assert not roles & {"roles/owner", "roles/editor", "roles/viewer"}


def test_secrets_only_by_reference(synth) -> None:
    plan = synth("prod")
    for service in plan.of_type(RUN):
        env = env_of(service)
        for name in ("DATABASE_URL", "REDIS_URL"):
            assert "value" not in env[name] and env[name]["valueSource"]["secretKeyRef"]["version"] == "1"
        for name, var in env.items():
            assert "value" not in var or not any(w in name for w in ("PASSWORD", "SECRET", "KEY", "TOKEN"))
    auth = next(s for s in plan.of_type(RUN) if s.inputs["labels"]["grid-service"] == "auth")
    assert env_of(auth)["JWT_SIGNING_KEY"]["valueSource"]["secretKeyRef"]["secret"] == "grid-prod-jwt-signing-key"


def test_functions_python312_from_hashed_source_with_caps(synth) -> None:
    plan = synth("prod")
    functions = {f.inputs["name"]: f for f in plan.of_type(FUNCTION)}
    assert set(functions) == {"grid-prod-korean-nlp", "grid-prod-ml-analytics"}
    for function in functions.values():
        assert function.inputs["buildConfig"]["runtime"] == "python312"
        source = function.inputs["buildConfig"]["source"]["storageSource"]
        assert source["object"].endswith(".zip")
        config = function.inputs["serviceConfig"]
        assert config["maxInstanceCount"] >= 1 and config["directVpcNetworkInterfaces"]
    assert functions["grid-prod-ml-analytics"].inputs["serviceConfig"]["availableMemory"] == "256Mi"
    bucket = plan.one("gcp:storage/bucket:Bucket", "-fn-src-bucket")
    assert bucket.inputs["uniformBucketLevelAccess"] is True and bucket.inputs["publicAccessPrevention"] == "enforced"


def test_prod_https_gateway_with_armor_cdn_and_routing(synth) -> None:
    plan = synth("prod")
    armor = plan.one("gcp:compute/securityPolicy:SecurityPolicy")
    expressions = " ".join(r["match"].get("expr", {}).get("expression", "") for r in armor.inputs["rules"])
    assert "xss-v33-stable" in expressions and "sqli-v33-stable" in expressions
    assert "evaluatePreconfiguredWaf('cve-canary')" in expressions  # Log4j (CKV_GCP_73), every signature
    ban = next(r for r in armor.inputs["rules"] if r["action"] == "rate_based_ban")
    assert ban["rateLimitOptions"]["rateLimitThreshold"] == {"count": 1200, "intervalSec": 60}
    assert armor.inputs["adaptiveProtectionConfig"]["layer7DdosDefenseConfig"]["enable"] is True
    backends = plan.of_type("gcp:compute/backendService:BackendService")
    assert len(backends) == 8  # 5 routes + a candidate backend per Cloud Run service (tagged rollouts)
    assert all(b.inputs["securityPolicy"] and b.inputs["logConfig"]["enable"] for b in backends)
    # The CDN fronts what has something to cache (auth's JWKS, app/common/caching.py) and caches no error.
    [cdn] = [b for b in backends if b.inputs.get("enableCdn")]
    assert cdn.name.endswith("-auth-backend")
    assert cdn.inputs["cdnPolicy"]["cacheMode"] == "USE_ORIGIN_HEADERS"
    assert cdn.inputs["cdnPolicy"]["negativeCaching"] is False
    # The functions find the client IP behind the same hops as the services (their per-client rates).
    api = plan.one("gcp:cloudrunv2/service:Service", "-api-service")
    (hops,) = [e["value"] for e in api.inputs["template"]["containers"][0]["envs"] if e["name"] == "TRUSTED_PROXY_HOPS"]
    for function in plan.of_type("gcp:cloudfunctionsv2/function:Function"):
        if "fn-" in function.name:
            assert function.inputs["serviceConfig"]["environmentVariables"]["TRUSTED_PROXY_HOPS"] == hops == "2"
    assert cdn.inputs["cdnPolicy"]["cacheKeyPolicy"]["includeQueryString"] is True
    url_maps = plan.of_type("gcp:compute/uRLMap:URLMap")
    routes = next(u for u in url_maps if "pathMatchers" in u.inputs)
    paths = {p for rule in routes.inputs["pathMatchers"][0]["pathRules"] for p in rule["paths"]}
    assert {"/auth/*", "/ai/*", "/fn/korean-nlp/*", "/fn/ml-analytics/anomalies"} <= paths
    # Pub/Sub push and Cloud Scheduler call ml-analytics' /events and /report; the load balancer never does.
    assert not {"/fn/ml-analytics", "/fn/ml-analytics/*"} & paths
    redirect = next(u for u in url_maps if "defaultUrlRedirect" in u.inputs)
    assert redirect.inputs["defaultUrlRedirect"]["httpsRedirect"] is True
    ssl = plan.one("gcp:compute/sSLPolicy:SSLPolicy")
    assert (ssl.inputs["profile"], ssl.inputs["minTlsVersion"]) == ("MODERN", "TLS_1_2")
    cert = plan.one("gcp:compute/managedSslCertificate:ManagedSslCertificate")
    assert cert.inputs["managed"]["domains"][0] == "api.acme.example"
    negs = plan.of_type("gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup")
    assert len(negs) == 8 and all(n.inputs["networkEndpointType"] == "SERVERLESS" for n in negs)
    tagged = {n.inputs["cloudRun"]["service"] for n in negs if n.inputs.get("cloudRun", {}).get("tag") == "candidate"}
    assert tagged == {"grid-prod-auth", "grid-prod-api", "grid-prod-ai"}
    assert routes.inputs["hostRules"][1] == {"hosts": ["candidate.api.acme.example"], "pathMatcher": "candidate"}
    assert "candidate.api.acme.example" in cert.inputs["managed"]["domains"]


def test_messaging_dead_letters_scheduler_and_tasks(synth) -> None:
    plan = synth("prod")
    subscriptions = plan.of_type("gcp:pubsub/subscription:Subscription")
    push = next(s for s in subscriptions if s.inputs["name"].endswith("-events-push"))
    assert push.inputs["pushConfig"]["oidcToken"]["serviceAccountEmail"].startswith("grid-prod-invoker@")
    assert push.inputs["deadLetterPolicy"]["maxDeliveryAttempts"] == 5
    assert push.inputs["pushConfig"]["pushEndpoint"].endswith("/fn/ml-analytics/events")
    job = plan.one("gcp:cloudscheduler/job:Job", "-schedules-daily-report")
    assert job.inputs["httpTarget"]["oidcToken"]["serviceAccountEmail"].startswith("grid-prod-invoker@")
    queue = plan.one("gcp:cloudtasks/queue:Queue")
    assert queue.inputs["rateLimits"]["maxConcurrentDispatches"] == 10


def test_api_publishes_events_to_the_topic_it_is_told(synth) -> None:
    plan = synth("prod")
    api = next(s for s in plan.of_type(RUN) if s.inputs["labels"]["grid-service"] == "api")
    env = env_of(api)
    assert env["EVENTS_BACKEND"]["value"] == "pubsub"
    assert env["PUBSUB_TOPIC"]["value"] == plan.outputs["eventsTopic"]
    assert env["JWKS_URL"]["value"] == "https://api.acme.example/auth/.well-known/jwks.json"


def test_migrations_run_as_a_job_with_the_api_image(synth) -> None:
    plan = synth("prod")
    job = plan.one("gcp:cloudrunv2/job:Job", "-migrate-job")
    [c] = job.inputs["template"]["template"]["containers"]
    api = next(s for s in plan.of_type(RUN) if s.inputs["labels"]["grid-service"] == "api")
    assert c["image"] == container(api)["image"]
    assert c["commands"] == ["python", "-m", "app.common.migrations"]
