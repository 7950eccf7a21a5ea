"""The plan benchmark's floor: every provider class a plan registers, whatever SDK it comes from."""

from __future__ import annotations

import pytest

from tests.bench import bench_module


@pytest.fixture(scope="module")
def plan_bench():
    return bench_module("plan_bench")


def test_floor_maps_every_provider_sdk_the_plan_uses(plan_bench) -> None:
    # The floor once took only pulumi-gcp and pulumi-random classes; the plan also registers pulumi-tls,
    # pulumi-docker-build and pulumiverse-time resources and a gcp provider.
    types = [
        "docker-build:index:Image",
        "gcp:compute/backendService:BackendService",
        "pulumi:providers:gcp",
        "random:index/randomPassword:RandomPassword",
        "time:index/sleep:Sleep",
        "tls:index/privateKey:PrivateKey",
    ]
    assert plan_bench.resource_classes(types) == [
        "pulumi_docker_build.Image",
        "pulumi_gcp.Provider",
        "pulumi_gcp.compute.BackendService",
        "pulumi_random.RandomPassword",
        "pulumi_tls.PrivateKey",
        "pulumiverse_time.Sleep",
    ]
    assert plan_bench.floor_code(["pulumi_gcp.Provider", "pulumi_tls.PrivateKey"], paused_gc=False) == (
        "import pulumi, pulumi_gcp, pulumi_tls; pulumi_gcp.Provider; pulumi_tls.PrivateKey"
    )
    # as `grid plan` runs: the cyclic collector paused (grid/plan.py), the heap frozen before exit (grid/cli.py)
    assert plan_bench.floor_code(["pulumi_tls.PrivateKey"]) == (
        "import gc; gc.disable(); import pulumi, pulumi_tls; pulumi_tls.PrivateKey; gc.freeze()"
    )


@pytest.mark.parametrize(
    "token",
    ["acme:index/widget:Widget", "gcp:compute/noSuchThing:NoSuchThing", "pulumi:providers:acme"],
)
def test_a_type_the_floor_cannot_map_is_an_error(plan_bench, token: str) -> None:
    with pytest.raises(plan_bench.UnmappedType, match=token):
        plan_bench.resource_classes([token])
