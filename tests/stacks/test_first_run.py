"""What breaks once a first deploy is running (issue 16 items 11-16), checked on the offline plan."""

from __future__ import annotations

import pytest

from components.compute.run import STARTUP_CONNECT_SECONDS
from tests.conftest import PROD_VARIANT, STACKS

RUN_SERVICE = "gcp:cloudrunv2/service:Service"
RUN_JOB = "gcp:cloudrunv2/job:Job"


def _env(container: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container["envs"]}


@pytest.mark.parametrize("stack", STACKS)
def test_startup_probes_outlast_direct_vpc_egress_and_the_app_retries_inside_them(synth, stack: str) -> None:
    plan = synth(stack)
    for service in plan.of_type(RUN_SERVICE):
        [container] = service.inputs["template"]["containers"]
        probe = container["startupProbe"]
        waits = probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe["failureThreshold"]
        assert 120 <= waits <= 240, f"{service.name}: the startup probe gives up after {waits}s"
        assert int(_env(container)["STARTUP_CONNECT_SECONDS"]) == STARTUP_CONNECT_SECONDS < waits
    # The bundled migrations job (a job of the stack file's own gets only what its entry reads: docs/workloads.md).
    [job] = [j for j in plan.of_type(RUN_JOB) if j.inputs["labels"]["grid-service"] == "migrations"]
    [container] = job.inputs["template"]["template"]["containers"]
    assert int(_env(container)["STARTUP_CONNECT_SECONDS"]) == STARTUP_CONNECT_SECONDS
    assert int(job.inputs["template"]["template"]["timeout"].rstrip("s")) > STARTUP_CONNECT_SECONDS


UPTIME = "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"


def test_no_uptime_check_keeps_the_scale_to_zero_gpu_service_warm(synth) -> None:
    plan = synth("prod")
    checks = {c.inputs["userLabels"]["grid-service"]: c.inputs for c in plan.of_type(UPTIME)}
    assert set(checks) == {"api", "auth"}  # prod's ai runs on an L4 and scales to zero
    for check in checks.values():
        assert len(check["selectedRegions"]) == 3 and check["timeout"] == "10s"  # api, auth keep warm instances
    [uptime] = [p for p in plan.of_type(ALERT) if p.inputs["userLabels"].get("grid-alert") == "uptime"] or [
        p for p in plan.of_type(ALERT) if "health" in p.inputs["displayName"]
    ]
    assert uptime.inputs["conditions"][0]["conditionThreshold"]["duration"] == "300s"


def test_a_warm_gpu_service_keeps_its_uptime_check(synth) -> None:
    assert PROD_VARIANT["grid:services"]["ai"]["minInstances"] >= 1
    plan = synth("prod", PROD_VARIANT)  # ai warm (prod's ai runs on a GPU)
    assert "ai" in {c.inputs["userLabels"]["grid-service"] for c in plan.of_type(UPTIME)}


def test_scale_to_zero_services_get_a_cold_start_timeout(synth) -> None:
    plan = synth("staging")
    timeouts = {c.inputs["userLabels"]["grid-service"]: c.inputs["timeout"] for c in plan.of_type(UPTIME)}
    assert timeouts == {"api": "45s", "auth": "45s", "ai": "45s"}


def test_cost_cap_addresses_every_service_by_name_inside_its_grant(synth) -> None:
    plan = synth("dev")
    [cap] = [f for f in plan.of_type(FUNCTION) if f.inputs["labels"]["grid-service"] == "cost-cap"]
    named = set(cap.inputs["serviceConfig"]["environmentVariables"]["SERVICES"].split(","))
    deployed = {s.inputs["name"] for s in plan.of_type(RUN_SERVICE)} | {
        f.inputs["name"] for f in plan.of_type(FUNCTION)
    }
    assert named == deployed - {cap.inputs["name"]}  # everything but itself
    [grant] = [g for g in plan.of_type("gcp:projects/iAMMember:IAMMember") if g.inputs["role"] == "roles/run.developer"]
    prefix = grant.inputs["condition"]["expression"].split('startsWith("', 1)[1].rstrip('")')
    location = prefix.rsplit("/services/", 1)[0]
    assert all(f"{location}/services/{name}".startswith(prefix) for name in named)


SQL = "gcp:sql/databaseInstance:DatabaseInstance"
API = "gcp:projects/service:Service"


def test_the_read_replica_does_not_copy_the_primarys_maintenance_or_backups(synth) -> None:
    plan = synth("prod")
    [replica] = [i for i in plan.of_type(SQL) if i.inputs.get("masterInstanceName")]
    [primary] = [i for i in plan.of_type(SQL) if not i.inputs.get("masterInstanceName")]
    assert "maintenanceWindow" in primary.inputs["settings"] and "backupConfiguration" in primary.inputs["settings"]
    for key in ("maintenanceWindow", "backupConfiguration", "retainBackupsOnDelete"):
        assert key not in replica.inputs["settings"], key


def test_nat_egresses_from_reserved_static_addresses(synth) -> None:
    """Prod's NAT (one address by default; tests/components/test_networking.py reserves several) egresses from
    reserved addresses, which the stack exports for partners to allow-list."""
    plan = synth("prod")
    nat = plan.one("gcp:compute/routerNat:RouterNat")
    addresses = plan.of_type("gcp:compute/address:Address")
    assert nat.inputs["natIpAllocateOption"] == "MANUAL_ONLY"
    assert sorted(nat.inputs["natIps"]) == sorted(a.outputs["selfLink"] for a in addresses) and len(addresses) == 1
    assert all(a.inputs["addressType"] == "EXTERNAL" for a in addresses)
    assert plan.outputs["egressAddresses"] == [a.outputs["address"] for a in addresses]


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_depends_explicitly_on_the_project_apis(synth, stack: str) -> None:
    plan = synth(stack)
    # The project's Google APIs (components/project.py). API Gateway's own managed service is enabled after its
    # gateway exists (it is named by it), so it is one of the resources that wait for the project's APIs.
    apis = {r.urn for r in plan.of_type(API) if "grid:project:ProjectServices::" in (r.parent or "")}
    assert apis
    loose = [
        r.name
        for r in plan.resources
        if r.type.startswith("gcp:") and r.urn not in apis and not apis <= set(r.dependencies)
    ]
    assert loose == []


SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
SUBSCRIBER = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"


def _service(plan, role: str):
    return next(s for s in plan.of_type(RUN_SERVICE) if s.inputs["labels"]["grid-service"] == role)


@pytest.mark.parametrize("stack", STACKS)
def test_background_work_runs_inside_requests_so_no_cpu_is_needed_between_them(synth, stack: str) -> None:
    plan = synth(stack)
    ai, api = _service(plan, "ai"), _service(plan, "api")
    [indexer] = [s for s in plan.of_type(SUBSCRIPTION) if s.inputs["name"].endswith("-ai-indexer")]
    push = indexer.inputs["pushConfig"]
    ai_env = _env(ai.inputs["template"]["containers"][0])
    assert push["pushEndpoint"].endswith("/ai/events/pubsub") and ai.inputs["name"] in push["pushEndpoint"]
    assert push["oidcToken"]["audience"] == ai_env["PUSH_AUDIENCE"] and ai.inputs["customAudiences"] == [
        ai_env["PUSH_AUDIENCE"]
    ]
    assert (
        ai_env["EVENTS_BACKEND"] == "push"
        and ai_env["PUSH_SERVICE_ACCOUNT"] == push["oidcToken"]["serviceAccountEmail"]
    )
    assert not [
        g
        for g in plan.of_type(SUBSCRIBER)
        if g.inputs["member"].startswith("serviceAccount:grid-") and "-ai@" in g.inputs["member"]
    ]  # ai pulls nothing
    assert _env(api.inputs["template"]["containers"][0])["OUTBOX_RELAY_MODE"] == "request"
    assert "grid-background" not in ai.inputs["labels"] and "grid-background" not in api.inputs["labels"]


def test_a_workload_declared_background_gets_cpu_and_an_instance(synth_fresh, monkeypatch) -> None:
    from stacks.config import BACKGROUND_WORK

    monkeypatch.setitem(BACKGROUND_WORK, "ai", ("message-indexer", "background"))
    plan = synth_fresh("dev")  # the patched program: not the session's cached dev run
    ai = _service(plan, "ai")
    assert ai.inputs["template"]["containers"][0]["resources"]["cpuIdle"] is False
    assert ai.inputs["template"]["scaling"]["minInstanceCount"] == 1
    assert ai.inputs["labels"]["grid-background"] == "message-indexer"
    [indexer] = [s for s in plan.of_type(SUBSCRIPTION) if s.inputs["name"].endswith("-ai-indexer")]
    assert "pushConfig" not in indexer.inputs
    assert _env(ai.inputs["template"]["containers"][0])["EVENTS_BACKEND"] == "pubsub"
