"""The API Gateway document dev deploys: valid Swagger 2.0 apart from Google's documented path-template syntax."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from components.gateway import (
    API_KEY,
    API_KEY_HEADER,
    METHODS,
    QUOTA_METRIC,
    USER_TOKEN,
    ApiGateway,
    Backend,
    EdgeArgs,
    openapi_spec,
)
from grid.stackfile import read_stack_file
from stacks.config import load_stack_config
from stacks.routes import PROBES, ROUTES
from stacks.serving import JWKS_PATH
from tests.components.test_standalone import URL, alone_name, build_alone
from tests.conftest import REPO_ROOT, Synth, shipped_plan

ORIGIN = "https://app.example.com"

# API Gateway's path templates (https://cloud.google.com/api-gateway/docs/path-templating) bind a variable to
# one segment ({var} or {var=*}) or to the rest of the path ({var=**}); the parameter is declared by the
# variable's name (the fix of https://github.com/hashicorp/terraform-provider-google/issues/12122). A generic
# Swagger 2.0 validator reads "var=**" as the parameter's name, so it judges the document with each binding
# written as the plain {var} it stands for.
_BINDING = re.compile(r"\{(\w+)=\*\*?\}")


def _as_swagger(document: dict) -> dict:
    paths = {_BINDING.sub(r"{\1}", path): item for path, item in document["paths"].items()}
    # Google's JWT definition (https://cloud.google.com/api-gateway/docs/authenticating-users-jwt) leaves the
    # implicit flow's authorizationUrl empty (the gateway only validates tokens); Swagger wants a URL there.
    definitions = {
        name: {**d, "authorizationUrl": "https://unused.invalid"} if d.get("authorizationUrl") == "" else d
        for name, d in document.get("securityDefinitions", {}).items()
    }
    return {**document, "paths": paths, **({"securityDefinitions": definitions} if definitions else {})}


def _errors(document: dict) -> list[str]:
    # Imported here: its referencing/jsonschema stack costs every test process ~0.3 s that only this file's tests use.
    from openapi_spec_validator import OpenAPIV2SpecValidator

    return [error.message for error in OpenAPIV2SpecValidator(_as_swagger(document)).iter_errors()]


def _document(plan: Synth, name_suffix: str) -> dict:
    config = plan.one("gcp:apigateway/apiConfig:ApiConfig", name_suffix)
    [document] = config.inputs["openapiDocuments"]
    return json.loads(base64.b64decode(document["document"]["contents"]))


@pytest.fixture(scope="module")
def dev_plan() -> Synth:
    return Synth(shipped_plan("dev").run)


@pytest.fixture(scope="module")
def dev_document(dev_plan: Synth) -> dict:
    return _document(dev_plan, "-gw-config")


def test_dev_gateway_document_is_valid_swagger_2(dev_plan: Synth, dev_document: dict) -> None:
    assert _errors(_document(dev_plan, "-gw-keys-config")) == []
    assert dev_document["swagger"] == "2.0"
    wildcards = [path for path in dev_document["paths"] if "=**}" in path]
    assert len(wildcards) == 4  # auth, ai, korean-nlp and the api's /v1
    assert "/fn/ml-analytics/anomalies" in dev_document["paths"]  # ml-analytics: only its public path
    assert _errors(dev_document) == []


def test_every_path_variable_is_declared_once_per_operation(dev_document: dict) -> None:
    for path, item in dev_document["paths"].items():
        variables = re.findall(r"\{(\w+)(?:=[^}]*)?\}", path)
        for operation in item.values():
            declared = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            assert declared == variables, f"{path}: {declared} != {variables}"
            assert all(p["required"] is True for p in operation["parameters"] if p["in"] == "path")


def test_an_undeclared_wildcard_is_what_the_validation_catches() -> None:
    """The check is not vacuous: the document API Gateway refused (no parameter for {rest=**}) fails it."""
    backends = [
        Backend("auth", "run", "auth", "/auth", "https://auth.run.app"),
        Backend("api", "run", "api", None, "https://api.run.app"),
    ]
    document = json.loads(openapi_spec("t", backends, {"auth": "https://auth.run.app", "api": "https://api.run.app"}))
    for item in document["paths"].values():
        for operation in item.values():
            operation["parameters"] = []
    assert any("rest" in message for message in _errors(document))


def _env(plan: Synth, service: str) -> dict[str, str]:
    run = plan.one("gcp:cloudrunv2/service:Service", f"-{service}-service")
    [container] = run.inputs["template"]["containers"]
    return {e["name"]: e.get("value") for e in container.get("envs", [])}


def test_the_gateway_checks_the_users_token_auth_signs(dev_plan: Synth, dev_document: dict) -> None:
    """Issuer and audience are the ones auth signs with; the keys come from the open keys gateway, which
    forwards only auth's JWKS path (Google fetches them anonymously; auth admits only the gateway)."""
    auth = _env(dev_plan, "auth")
    definition = dev_document["securityDefinitions"][USER_TOKEN]
    assert definition["x-google-issuer"] == auth["JWT_ISSUER"]
    assert definition["x-google-audiences"] == auth["JWT_AUDIENCE"]
    assert {_env(dev_plan, s)["JWT_ISSUER"] for s in ("api", "ai")} == {auth["JWT_ISSUER"]}
    keys_host = dev_plan.one("gcp:apigateway/gateway:Gateway", "-gw-keys-gateway").outputs["defaultHostname"]
    assert definition["x-google-jwks_uri"] == f"https://{keys_host}{JWKS_PATH}"
    assert dev_plan.outputs["gatewayJwksUri"] == definition["x-google-jwks_uri"]
    keys = _document(dev_plan, "-gw-keys-config")
    assert list(keys["paths"]) == [JWKS_PATH]
    assert "securityDefinitions" not in keys and all("security" not in op for op in keys["paths"][JWKS_PATH].values())
    assert dev_document["securityDefinitions"][API_KEY] == {"type": "apiKey", "name": API_KEY_HEADER, "in": "header"}


def test_each_operation_requires_what_its_route_says(dev_document: dict) -> None:
    """Probes are open; auth's routes need an API key; every other route needs the user's token too; whatever
    is keyed is metered. Every public route of stacks/routes.py appears, and nothing else."""
    probes = {f"{r.prefix or ''}{p}" for r in ROUTES if r.workload in ("auth", "api", "ai") for p in PROBES}
    assert probes <= set(dev_document["paths"])
    seen = set()
    for path, item in dev_document["paths"].items():
        route = next(r for r in ROUTES if r.prefix is None or path.startswith(r.prefix))
        seen.add(route.workload)
        assert set(item) == {*METHODS, "options"}, path  # dev allows a local front end's origin
        for method, operation in item.items():
            if path in probes or method == "options":
                assert "security" not in operation and "x-google-quota" not in operation, path
                continue
            expected = [{USER_TOKEN: [], API_KEY: []}] if route.user_token else [{API_KEY: []}]
            assert operation["security"] == expected, path
            assert operation["x-google-quota"] == {"metricCosts": {QUOTA_METRIC: 1}}, path
    assert seen == {r.workload for r in ROUTES}
    assert [r.workload for r in ROUTES if not r.user_token] == ["auth"]


def test_quota_and_cors_follow_the_config(tmp_path: Path) -> None:
    edge = EdgeArgs("acme-auth", "acme", "web", "/keys", quota_per_minute=120, allowed_origins=[ORIGIN])
    name = alone_name(ApiGateway)
    document = _document(build_alone(ApiGateway, tmp_path, name=name, edge=edge), f"{name}-config")
    [limit] = document["x-google-management"]["quota"]["limits"]
    assert limit == {
        "name": f"{QUOTA_METRIC}-per-minute",
        "metric": QUOTA_METRIC,
        "unit": "1/min/{project}",
        "values": {"STANDARD": 120},
    }
    assert [m["name"] for m in document["x-google-management"]["metrics"]] == [QUOTA_METRIC]
    assert document["paths"]
    for path, item in document["paths"].items():
        preflight = item["options"]  # every path lets its preflight through, unchecked and unmetered
        assert "security" not in preflight and "x-google-quota" not in preflight, path
        assert preflight["x-google-backend"] == item["get"]["x-google-backend"], path
    assert _errors(document) == []


@pytest.mark.parametrize(("timeout", "deadline"), [(60, 60.0), (900, 900.0), (7200, 3600.0)])
def test_the_gateway_waits_as_long_as_the_workload_may_answer(tmp_path: Path, timeout: int, deadline: float) -> None:
    """API Gateway's backend deadline bounds the whole response (default 15 s, at most 3600 s): it follows the
    workload's own request timeout, so a slow answer the workload may still give is not cut at the gateway."""
    backend = Backend(key="web", kind="run", service_name="web", path_prefix=None, uri=URL, timeout_seconds=timeout)
    name = alone_name(ApiGateway)
    document = _document(build_alone(ApiGateway, tmp_path, name=name, backends=[backend]), f"{name}-config")
    deadlines = {op["x-google-backend"]["deadline"] for item in document["paths"].values() for op in item.values()}
    assert deadlines == {deadline}


def test_the_shipped_gateway_follows_each_workloads_timeout(dev_document: dict) -> None:
    file = read_stack_file(REPO_ROOT, "dev")
    config = load_stack_config(file.values, stack="dev", source=file.path.name, secret_keys=file.secret_keys)
    timeouts = {w.name: config.settings_of(w).timeout_seconds for w in config.workloads if w.kind != "job"}
    seen = set()
    for item in dev_document["paths"].values():
        for operation in item.values():
            key = operation["operationId"].rsplit("_", 2)[0]  # the backend's key, as _operation names it
            workload = key.removeprefix("fn_").replace("_", "-")
            assert operation["x-google-backend"]["deadline"] == timeouts[workload], operation["operationId"]
            seen.add(workload)
    assert {"auth", "api", "ai"} <= seen


def test_the_stack_files_gateway_settings_reach_the_gateway_and_every_workloads_cors(dev_plan, dev_document) -> None:
    """Dev's grid:gateway (its stack file allows a local front end's origin; the quota is the default) is what
    its gateway meters and what every service and function answers cross-origin requests from."""
    file = read_stack_file(REPO_ROOT, "dev")
    gateway = load_stack_config(file.values, stack="dev", source=file.path.name, secret_keys=file.secret_keys).gateway
    assert gateway.allowed_origins
    [limit] = dev_document["x-google-management"]["quota"]["limits"]
    assert limit["values"] == {"STANDARD": gateway.quota_per_minute}
    for service in ("auth", "api", "ai"):
        assert json.loads(_env(dev_plan, service)["CORS_ALLOWED_ORIGINS"]) == gateway.allowed_origins
    for function in ("korean-nlp", "ml-analytics"):
        fn = dev_plan.one("gcp:cloudfunctionsv2/function:Function", f"-{function}-function")
        env = fn.inputs["serviceConfig"]["environmentVariables"]
        assert json.loads(env["CORS_ALLOWED_ORIGINS"]) == gateway.allowed_origins


def test_without_allowed_origins_no_preflight_gets_through() -> None:
    """No origins: no OPTIONS operation, so API Gateway answers a preflight 404 and the browser refuses."""
    backends = [Backend("api", "run", "api", None, "https://api.run.app", probe_paths=["/health"])]
    edge = EdgeArgs("grid-auth", "grid", "api", "/keys", 60)
    document = json.loads(openapi_spec("t", backends, {"api": "https://api.run.app"}, edge, "https://k/keys"))
    assert all("options" not in item for item in document["paths"].values())
    assert "security" not in document["paths"]["/health"]["get"]
