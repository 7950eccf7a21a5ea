"""What the plan wires between workloads, checked against the rules Google Cloud applies once it is deployed.

Each shipped stack is planned once per module; the tests read what a workload would get and who may call it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Synth, shipped_plan

RUN = "gcp:cloudrunv2/service:Service"
RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
JWKS_PATH = "/auth/.well-known/jwks.json"


@pytest.fixture(scope="module")
def plan() -> Callable[[str], Synth]:
    """The session's run of each shipped stack, copied once for this module (its tests only read it)."""
    cache: dict[str, Synth] = {}

    def get(stack: str) -> Synth:
        if stack not in cache:
            cache[stack] = Synth(shipped_plan(stack).run)
        return cache[stack]

    return get


def service(plan: Synth, name: str) -> Any:
    return next(s for s in plan.of_type(RUN) if s.inputs["labels"]["grid-service"] == name)


def env(plan: Synth, name: str) -> dict[str, str]:
    [container] = service(plan, name).inputs["template"]["containers"]
    return {e["name"]: e.get("value") for e in container.get("envs", [])}


def invokers(plan: Synth, name: str) -> set[str]:
    run_name = service(plan, name).inputs["name"]
    return {m.inputs["member"] for m in plan.of_type(RUN_IAM) if m.inputs["name"] == run_name}


def test_dev_fetches_auths_keys_from_its_private_url_with_an_id_token_for_it(plan) -> None:
    dev = plan("dev")
    auth_url = dev.outputs["serviceUrls"]["auth"]
    assert "allUsers" not in invokers(dev, "auth")
    for name in ("api", "ai"):
        assert env(dev, name)["JWKS_URL"] == auth_url + JWKS_PATH
        # Cloud Run IAM refuses the fetch without a Google-signed ID token for auth's URL.
        assert env(dev, name)["JWKS_AUDIENCE"] == auth_url
        member = f"serviceAccount:{service(dev, name).inputs['template']['serviceAccount']}"
        assert member in invokers(dev, "auth")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_behind_the_load_balancer_the_keys_come_through_the_public_hostname_without_a_token(plan, stack) -> None:
    planned = plan(stack)
    for name in ("api", "ai"):
        assert env(planned, name)["JWKS_URL"].startswith("https://api.")
        assert "JWKS_AUDIENCE" not in env(planned, name)


def test_behind_api_gateway_services_read_the_forwarded_header_and_admit_only_known_identities(plan) -> None:
    dev = plan("dev")
    config = dev.one("gcp:apigateway/apiConfig:ApiConfig", "-gw-config")  # the main one (not the keys gateway's)
    [document] = config.inputs["openapiDocuments"]
    spec = json.loads(base64.b64decode(document["document"]["contents"]))
    backends = [op["x-google-backend"] for path in spec["paths"].values() for op in path.values()]
    # The gateway authenticates itself with an ID token in Authorization and moves the caller's header aside.
    assert backends and all(b["jwt_audience"] for b in backends)
    for name in ("auth", "api", "ai"):
        assert env(dev, name)["USER_AUTH_HEADER"] == "X-Forwarded-Authorization"
        # Only the gateway and the platform's own identities: nothing else can reach the service to forge it.
        assert all(m.startswith("serviceAccount:grid-dev-") for m in invokers(dev, name)), invokers(dev, name)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_without_api_gateway_services_read_only_authorization(plan, stack) -> None:
    planned = plan(stack)
    for name in ("auth", "api", "ai"):
        assert env(planned, name)["USER_AUTH_HEADER"] == "Authorization"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_workload_reading_the_tls_cache_is_given_its_server_ca(plan, stack) -> None:
    planned = plan(stack)
    [instance] = planned.of_type("gcp:redis/instance:Instance")
    assert instance.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    cas = "".join(c["cert"] for c in instance.outputs["serverCaCerts"])
    readers = []
    for workload in planned.of_type(RUN) + planned.of_type("gcp:cloudrunv2/job:Job"):
        template = workload.inputs["template"]
        [container] = template.get("containers") or template["template"]["containers"]
        names = {e["name"]: e for e in container.get("envs", [])}
        if "REDIS_URL" in names:
            assert names["REDIS_CA_CERT"]["value"] == cas, workload.name
            readers.append(workload.inputs["labels"]["grid-service"])
    assert {"auth", "api", "ai"} <= set(readers)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_korean_nlp_deploys_with_its_own_memory_default(plan, stack) -> None:
    functions = plan(stack).of_type("gcp:cloudfunctionsv2/function:Function")
    [nlp] = [f for f in functions if f.inputs.get("labels", {}).get("grid-service") == "korean-nlp"]
    assert nlp.inputs["serviceConfig"]["availableMemory"] == "512Mi"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_api_streams_as_long_as_cloud_run_allows_and_knows_its_limit(plan, stack) -> None:
    from gridlib.gcp_limits import CLOUD_RUN_MAX_TIMEOUT_SECONDS

    api = service(plan(stack), "api")
    assert api.inputs["template"]["timeout"] == f"{CLOUD_RUN_MAX_TIMEOUT_SECONDS}s"
    assert env(plan(stack), "api")["REQUEST_TIMEOUT_SECONDS"] == str(CLOUD_RUN_MAX_TIMEOUT_SECONDS)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_entry_point_forwards_only_ml_analytics_user_endpoint(plan, stack) -> None:
    """/events and /report trust their caller to be Pub/Sub push or Cloud Scheduler: no public route reaches them."""
    planned = plan(stack)
    routed: set[str] = set()
    for url_map in planned.of_type("gcp:compute/uRLMap:URLMap"):
        for matcher in url_map.inputs.get("pathMatchers", []):
            routed |= {p for rule in matcher["pathRules"] for p in rule["paths"]}
    for config in planned.of_type("gcp:apigateway/apiConfig:ApiConfig"):
        [document] = config.inputs["openapiDocuments"]
        routed |= set(json.loads(base64.b64decode(document["document"]["contents"]))["paths"])
    analytics = {p for p in routed if p.startswith("/fn/ml-analytics")}
    assert analytics and all(p.startswith("/fn/ml-analytics/anomalies") for p in analytics), analytics
