"""`grid plan` as a user runs it: exit codes, one-line errors, no tracebacks, no secrets.

The CLI runs in-process (tests/grid/cli_run.py); `test_preview_without_cli_says_what_to_install` stays a
subprocess: it needs a PATH without the Pulumi CLI and checks the `python -m grid.cli` entry point's exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.grid.cli_run import run_grid

GRID = [sys.executable, "-m", "grid.cli"]


def grid(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """``grid ARGS`` as a user runs it, in this process (tests/grid/cli_run.py says why and what stays a
    subprocess): an unchanged shipped stack is the session's plan; any other stack file is planned anew."""
    return run_grid(*args, cwd=cwd)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    return tmp_path


def write_stack(project: Path, text: str, stack: str = "dev") -> None:
    (project / f"Pulumi.{stack}.yaml").write_text(text)


GOOD = (
    "config:\n  gcp:project: acme-grid-dev\n  gcp:region: us-central1\n  grid:environment: dev\n"
    "  grid:monitoring:\n    alertEmails: [ops@acme.example]\n"
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            GOOD + "  grid:database:\n    availability: regionall\n",
            "Pulumi.dev.yaml: grid:database.availability: must be one of zonal, regional (got 'regionall')",
        ),
        (
            GOOD + "  grid:databse:\n    tier: db-f1-micro\n",
            "Pulumi.dev.yaml: grid:databse: unknown key; did you mean 'database'?",
        ),
        (
            GOOD + "  grid:database:\n    dsikSizeGb: 20\n",
            "Pulumi.dev.yaml: grid:database.dsikSizeGb: unknown key; did you mean 'diskSizeGb'?",
        ),
        (
            GOOD + "  grid:database:\n    diskSizeGb: twenty\n",
            "Pulumi.dev.yaml: grid:database.diskSizeGb: must be a whole number (got 'twenty')",
        ),
        (
            GOOD + "  grid:services:\n    api:\n      minInstances: 4\n      maxInstances: 1\n",
            "Pulumi.dev.yaml: grid:services.api: minInstances (4) is above maxInstances (1)",
        ),
        ("config:\n  gcp:project: acme-grid-dev\n", "Pulumi.dev.yaml: grid:environment: required"),
        (GOOD + "  grid:database:\n   tier: x\n  bad", "Pulumi.dev.yaml: line "),
        ("config:\n  - just\n  - a list\n", "Pulumi.dev.yaml: config: must be a mapping"),
    ],
    ids=[
        "enum",
        "unknown-top-level",
        "unknown-nested",
        "wrong-type",
        "min-max",
        "missing-required",
        "malformed-yaml",
        "shape",
    ],
)
def test_bad_config_exits_2_with_one_line(project: Path, body: str, expected: str) -> None:
    write_stack(project, body)
    result = grid("plan", "--stack", "dev", cwd=project)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected)
    assert result.stdout == ""


def test_malformed_yaml_names_line_and_column(project: Path) -> None:
    write_stack(project, "config:\n  gcp:project: [unclosed\n")
    result = grid("plan", "dev", cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith("Pulumi.dev.yaml: line ") and "malformed YAML" in result.stderr


def test_usage_errors_exit_2(project: Path) -> None:
    assert grid("plan", "--stack", "nope", cwd=project).returncode == 2
    result = grid("plan", cwd=project)
    assert result.returncode == 2 and "name a stack" in result.stderr
    result = grid("bogus")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_preview_without_cli_says_what_to_install(project: Path) -> None:
    write_stack(project, GOOD)
    env_path = "/nonexistent"
    result = subprocess.run(
        [*GRID, "preview", "dev"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": env_path, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Pulumi CLI is not installed" in result.stderr


def test_plan_json_contract_and_secrets() -> None:
    result = grid("plan", "--stack", "prod", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"project", "stack", "environment", "resources", "violations", "summary"} <= set(document)
    assert (document["project"], document["stack"], document["environment"]) == ("grid", "prod", "prod")
    urns = {r["urn"] for r in document["resources"]}
    for resource in document["resources"]:
        assert set(resource) == {"urn", "type", "name", "parent", "custom", "protect", "dependencies", "inputs"}
        assert resource["parent"] is None or resource["parent"] in urns
        assert set(resource["dependencies"]) <= urns
    assert document["summary"]["resources"] == len(document["resources"])
    versions = [r for r in document["resources"] if r["type"] == "gcp:secretmanager/secretVersion:SecretVersion"]
    assert versions and all(v["inputs"]["secretData"] == "[secret]" for v in versions)
    # Neither the example plaintexts nor the offline placeholders leak.
    assert "replace-me" not in result.stdout and "offline-placeholder" not in result.stdout


def test_human_plan_is_a_tree() -> None:
    result = grid("plan", "dev")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Plan for stack dev (dev), offline")
    assert "├─ + grid:database:Database  grid-dev-db" in result.stdout


def test_plan_names_the_secrets_it_could_not_decrypt() -> None:
    """The shipped prod stack's secrets are Cloud KMS ciphertext: planned with placeholders, named on stderr."""
    from grid.stackfile import load_yaml

    result = grid("plan", "--stack", "prod", "--json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # stdout stays the document
    warnings = [line for line in result.stderr.splitlines() if line.startswith("grid: warning:")]
    assert warnings == [
        "grid: warning: Pulumi.prod.yaml: not decrypted, their provider is Cloud KMS (gcpkms://projects/acme-grid-ops/"
        "locations/us-central1/keyRings/pulumi/cryptoKeys/pulumi-secrets), which an offline plan does not call; "
        "planned with placeholders: grid:completionApiKey, grid:pagerdutyRoutingKey, grid:slackAuthToken"
    ]
    config = load_yaml((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    ciphertexts = [value["secure"] for value in config.values() if isinstance(value, dict) and "secure" in value]
    assert len(ciphertexts) == 3
    assert not any(text.split(":")[-1] in result.stderr + result.stdout for text in ciphertexts)


def test_a_passphrase_secret_is_named_as_not_asked_for(project: Path) -> None:
    """A stack file without a ``secretsprovider:`` uses the passphrase provider, which an offline plan never asks for
    (the warning above, worded for it)."""
    from grid.stackfile import read_stack_file

    write_stack(project, GOOD + "  grid:completionApiKey:\n    secure: v1:abc:Y2lwaGVydGV4dA==\n")
    stack_file = read_stack_file(project, "dev")
    assert stack_file.undecrypted_warning() == (
        "Pulumi.dev.yaml: not decrypted, their provider is a passphrase, which an offline plan does not ask for; "
        "planned with placeholders: grid:completionApiKey"
    )
    assert "Y2lwaGVydGV4dA" not in json.dumps(stack_file.values)


def test_no_stack_names_the_stack_files_of_the_project(capsys) -> None:
    """Not a fixed "dev (or staging, prod)": the bootstrap project's only stack is `example`, and Grid's own
    project has dev-external too."""
    from grid.cli import main
    from grid.stackfile import stack_names
    from tests.conftest import REPO_ROOT

    assert main(["plan", "--project", "bootstrap"]) == 2
    assert "`grid plan --stack example`; this project's stack files: example" in capsys.readouterr().err
    assert main(["preflight"]) == 2
    err = capsys.readouterr().err
    assert "`grid preflight --stack dev`" in err and ", ".join(stack_names(REPO_ROOT)) in err
