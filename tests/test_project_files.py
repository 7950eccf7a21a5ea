"""Project files a newcomer and the Pulumi CLI rely on."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from grid.stackfile import load_yaml
from tests.conftest import REPO_ROOT, STACKS

SCHEMA = REPO_ROOT / "docs" / "schemas" / "pulumi-project.json"  # Pulumi's own (docs/schemas/README.md)


def test_pulumi_yaml_matches_pulumis_project_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    project = load_yaml((REPO_ROOT / "Pulumi.yaml").read_text())
    jsonschema.validate(project, schema)
    assert project["name"] == "grid" and project["main"] == "stacks/"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert (REPO_ROOT / project["main"] / "__main__.py").is_file()


def test_yaml_reads_as_the_safe_loader_reads_it() -> None:
    """grid reads YAML with libyaml's loader where PyYAML has it (grid/stackfile.py ``load_yaml``): the documents
    it gives are yaml.safe_load's, for every kind of YAML file grid reads (stack files of the three projects, their
    Pulumi.yaml, the scanner's skips)."""
    import yaml

    from grid.stackfile import SAFE_LOADER

    assert SAFE_LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
    files = [
        *REPO_ROOT.glob("Pulumi*.yaml"),
        *(REPO_ROOT / "bootstrap").glob("Pulumi*.yaml"),
        *(REPO_ROOT / "bench" / "reference").glob("Pulumi*.yaml"),
        REPO_ROOT / "policies" / "scanner-skips.yaml",
    ]
    assert len(files) >= 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text) == yaml.safe_load(text), path
    # A malformed file is reported as yaml.safe_load reports it (read_stack_file shows the problem and its place).
    for bad in ("config:\n\tgrid:environment: dev\n", "config: *missing\n", "config: [1, 2}\n"):
        with pytest.raises(yaml.YAMLError) as fast:
            load_yaml(bad)
        with pytest.raises(yaml.YAMLError) as slow:
            yaml.safe_load(bad)
        assert str(fast.value) == str(slow.value)


def test_every_secret_in_stack_files_is_encrypted() -> None:
    for stack in STACKS:
        document = load_yaml((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
        # Cloud KMS, which CI can use (tests/delivery/test_secrets_provider.py), not a passphrase.
        assert document["secretsprovider"].startswith("gcpkms://") and "encryptionsalt" not in document
        for key, value in document["config"].items():
            if isinstance(value, dict) and "secure" in value:
                assert re.match(r"^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$", value["secure"]), key


def test_readme_opens_with_the_two_commands() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    first_block = text.split("```", 2)[1]
    assert "make plan" in first_block and "make test" in first_block


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.pulumi_cli
@pytest.mark.skipif(
    shutil.which("pulumi") is None or not os.environ.get("GRID_E2E"),
    reason="needs the Pulumi CLI and Google Cloud credentials (set GRID_E2E=1 where both exist)",
)
def test_real_pulumi_preview_of_dev(tmp_path: Path) -> None:
    """With the CLI and credentials, `grid preview dev` runs a real preview with the policy pack."""
    from grid import pulumi_cli

    assert pulumi_cli.run("preview", "dev") == 0
