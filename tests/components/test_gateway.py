"""The API Gateway document dev deploys: valid Swagger 2.0 apart from Google's documented path-template syntax."""

from __future__ import annotations

import base64
import json
import re

import pytest
from openapi_spec_validator import OpenAPIV2SpecValidator

from components.gateway import Backend, openapi_spec
from tests.conftest import Synth, shipped_plan

# API Gateway's path templates (https://cloud.google.com/api-gateway/docs/path-templating) bind a variable to
# one segment ({var} or {var=*}) or to the rest of the path ({var=**}); the parameter is declared by the
# variable's name (the fix of https://github.com/hashicorp/terraform-provider-google/issues/12122). A generic
# Swagger 2.0 validator reads "var=**" as the parameter's name, so it judges the document with each binding
# written as the plain {var} it stands for.
_BINDING = re.compile(r"\{(\w+)=\*\*?\}")


def _as_swagger(document: dict) -> dict:
    return {**document, "paths": {_BINDING.sub(r"{\1}", path): item for path, item in document["paths"].items()}}


def _errors(document: dict) -> list[str]:
    return [error.message for error in OpenAPIV2SpecValidator(_as_swagger(document)).iter_errors()]


@pytest.fixture(scope="module")
def dev_document() -> dict:
    plan = Synth(shipped_plan("dev").run)
    config = plan.one("gcp:apigateway/apiConfig:ApiConfig")
    [document] = config.inputs["openapiDocuments"]
    return json.loads(base64.b64decode(document["document"]["contents"]))


def test_dev_gateway_document_is_valid_swagger_2(dev_document: dict) -> None:
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
