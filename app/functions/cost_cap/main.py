"""cost-cap: stop a stack's Cloud Run services once actual spend reaches its budget (dev only).

Cloud Billing publishes budget notifications to a Pub/Sub topic; Eventarc delivers each one here as a
CloudEvent. When ``costAmount >= budgetAmount`` (actual, not forecast, spend), every Cloud Run service of the
stack (``SERVICES``: the services and the gen2 functions, except this one) is switched to manual scaling with
zero instances, which stops it serving and billing. The next ``pulumi up`` restores the configured scaling:
capping is a brake, not a configuration change.

The services are addressed by name, never listed: this function's role is granted only on resources whose
name starts with the stack's prefix (an IAM condition), and listing is authorised on the *location*, whose name
never matches, so a list call is always denied (https://cloud.google.com/iam/docs/conditions-resource-attributes).

Only the standard library is used, so the function starts fast and has no supply chain of its own.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import functions_framework

# Deployed with the function's source at this path (stacks/serving.py FUNCTION_SHARED_FILES).
from app.common.logging import configure_hosted_logging

configure_hosted_logging()
log = logging.getLogger("cost-cap")

METADATA = os.environ.get("METADATA_HOST", "http://metadata.google.internal")
RUN_API = os.environ.get("RUN_API", "https://run.googleapis.com")
TIMEOUT = 10


def _request(method: str, url: str, token: str | None = None, body: dict | None = None) -> dict[str, Any]:
    headers = {"Metadata-Flavor": "Google"} if token is None else {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read() or b"{}")


def access_token() -> str:
    """The function's own identity's token, from the metadata server."""
    url = f"{METADATA}/computeMetadata/v1/instance/service-accounts/default/token"
    return str(_request("GET", url)["access_token"])


def over_budget(notification: dict[str, Any]) -> bool:
    """True when actual spend has reached the budget (forecast thresholds never stop anything)."""
    try:
        return float(notification["costAmount"]) >= float(notification["budgetAmount"]) > 0
    except (KeyError, TypeError, ValueError):
        log.warning("ignoring a budget notification without costAmount/budgetAmount")
        return False


def stack_services(token: str, project: str, region: str, names: list[str]) -> Iterator[dict[str, Any]]:
    """The named services that exist (a function not yet deployed is skipped), each read by name."""
    for name in names:
        try:
            yield _request("GET", f"{RUN_API}/v2/projects/{project}/locations/{region}/services/{name}", token)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            log.warning("service %s not found; nothing to stop there", name)


def cap(token: str, project: str, region: str, names: list[str], keep: str) -> list[str]:
    """Scale every named service but ``keep`` to zero; returns the names it stopped."""
    stopped = []
    for service in stack_services(token, project, region, [n for n in names if n != keep]):
        name = service["name"]
        if name.rsplit("/", 1)[-1] == keep:
            continue
        if (service.get("scaling") or {}).get("scalingMode") == "MANUAL" and not (service.get("scaling") or {}).get(
            "manualInstanceCount"
        ):
            continue  # already stopped
        _request(
            "PATCH",
            f"{RUN_API}/v2/{name}?updateMask=scaling",
            token,
            {"scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 0}},
        )
        stopped.append(name.rsplit("/", 1)[-1])
    return stopped


def handle(notification: dict[str, Any], env: dict[str, str]) -> list[str]:
    if not over_budget(notification):
        return []
    names = [name for name in env["SERVICES"].split(",") if name]
    stopped = cap(access_token(), env["GOOGLE_CLOUD_PROJECT"], env["REGION"], names, env["K_SERVICE"])
    log.warning(
        json.dumps(
            {
                "severity": "WARNING",
                "message": f"spend {notification['costAmount']} reached budget {notification['budgetAmount']}: "
                f"stopped {', '.join(stopped) or 'nothing (already stopped)'}",
            }
        )
    )
    return stopped


@functions_framework.cloud_event
def cost_cap(event: Any) -> None:
    """Eventarc entry point: a Pub/Sub message carrying a budget notification."""
    data = (event.data or {}).get("message", {}).get("data")
    if not data:
        return
    handle(json.loads(base64.b64decode(data)), dict(os.environ))
