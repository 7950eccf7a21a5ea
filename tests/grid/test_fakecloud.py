"""The fake cloud's structure: one module per Google Cloud service, no import circle, each type handled once."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import grid.fakecloud
from grid.fakecloud import OUTPUTS, SERVICES, FakeCloud, _join

PACKAGE = Path(grid.fakecloud.__file__).parent


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _project_imports(module: Path) -> set[str]:
    """The ``grid.*`` modules a file imports (``from grid.fakecloud import x`` counts as ``grid.fakecloud.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("grid")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("grid"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if _is_module(submodule) else node.module)
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.stem)
def test_service_modules_import_only_core(path: Path) -> None:
    # The old fake_cloud*.py files imported each other in a circle (the base registered the others at its end).
    imports = _project_imports(path)
    if path.stem == "core":
        assert imports == set()
    else:  # __init__ joins the services it finds in the package without naming them
        assert imports == {"grid.fakecloud.core"}, f"{path.name} imports {imports}"


def test_a_type_two_services_claim_is_refused() -> None:
    twin = ModuleType("grid.fakecloud.twin")
    twin.OUTPUTS = {"gcp:pubsub/topic:Topic": lambda cloud, logical, state: {}}
    with pytest.raises(ValueError, match=r"gcp:pubsub/topic:Topic is handled twice \(grid.fakecloud.twin again\)"):
        _join((*SERVICES, twin))


def test_every_autonamed_type_belongs_to_the_service_that_names_it() -> None:
    for service in SERVICES:
        prefixes = {resource_type.split("/", 1)[0] for resource_type in service.OUTPUTS}
        assert all(resource_type.split("/", 1)[0] in prefixes for resource_type in service.AUTONAMED), service


def test_outputs_chain_across_services_as_google_shapes_them() -> None:
    """A regional compute link, a Run URL and a budget's UUID: the handlers still compute what components chain."""
    cloud = FakeCloud("acme-grid-dev", "us-central1")
    router = OUTPUTS["gcp:compute/router:Router"](cloud, "router", {"name": "router-1"})
    assert router["selfLink"] == (
        "https://www.googleapis.com/compute/v1/projects/acme-grid-dev/regions/us-central1/routers/router-1"
    )
    neg = OUTPUTS["gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"](
        cloud, "neg", {"name": "api-neg", "region": "europe-west1"}
    )
    assert neg["__id"] == "projects/acme-grid-dev/regions/europe-west1/networkEndpointGroups/api-neg"
    service = OUTPUTS["gcp:cloudrunv2/service:Service"](cloud, "api", {"name": "grid-dev-api"})
    assert service["urls"] == [f"https://grid-dev-api-{cloud.project_number}.us-central1.run.app"]
    budget = OUTPUTS["gcp:billing/budget:Budget"](cloud, "budget", {"billingAccount": "01-02"})
    dashboard = OUTPUTS["gcp:monitoring/dashboard:Dashboard"](cloud, "budget", {})
    assert budget["name"].rsplit("/", 1)[1] == dashboard["__id"].rsplit("/", 1)[1] == cloud.uuid("budget")
