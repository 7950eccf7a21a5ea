"""Read ``Pulumi.<stack>.yaml`` the way the Pulumi CLI hands it to a program, without the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gridlib.config_errors import ConfigError
from gridlib.offline import OFFLINE_PLACEHOLDER

PROJECT = "grid"
# PyYAML's libyaml loader where PyYAML was built with it (its wheels are): the same documents as SafeLoader, about
# ten times faster (Pulumi.prod.yaml: 9.6 -> 1.0 ms); the pure-Python one took ~2.3 CPU s of the unit suite.
SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ALLOWED_TOP_LEVEL = {"config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"}


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, parsed by libyaml where PyYAML has it. A document libyaml refuses is read again by
    SafeLoader: its error names the problem more precisely (the tab, the alias), and the few documents libyaml alone
    refuses (a lone surrogate escape) still load as yaml.safe_load loads them."""
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError:
        return yaml.safe_load(text)


class UsageError(Exception):
    """Bad command-line use: a one-line message, exit code 2."""


class CommandFailed(Exception):
    """A command used correctly that could not do its job (a restore that failed): a one-line message, exit code 1."""


@dataclass(frozen=True)
class StackFile:
    stack: str
    path: Path
    values: dict[str, Any]
    """Config key (``namespace:key``) -> value as written (mappings stay mappings)."""
    secret_keys: frozenset[str]
    """Keys whose value is ``secure:`` ciphertext; their value here is a placeholder, never the plaintext."""
    secrets_provider: str = "passphrase"
    """``secretsprovider:`` as written; without it a self-managed backend (gs://) uses the passphrase provider."""
    has_encrypted_key: bool = False
    """Whether ``encryptedkey:`` (a cloud provider's wrapped data key) is present: the ``secure:`` values were
    encrypted under this stack's own key, not copied from elsewhere."""

    @property
    def source(self) -> str:
        return self.path.name

    def undecrypted_warning(self) -> str | None:
        """One line naming the secret keys an offline run could not decrypt and why; None without secrets.

        The offline engine never decrypts: a Cloud KMS provider needs Google credentials and a network call, a
        passphrase needs the passphrase, and a plan must run without either. The program sees a placeholder for
        each key instead (the plan shows ``[secret]``), so anything computed from a secret's value is not real.
        """
        if not self.secret_keys:
            return None
        if self.secrets_provider.startswith("gcpkms://"):
            why = f"their provider is Cloud KMS ({self.secrets_provider}), which an offline plan does not call"
        elif self.secrets_provider == "passphrase":
            why = "their provider is a passphrase, which an offline plan does not ask for"
        else:
            why = f"their provider ({self.secrets_provider}) is not used offline"
        keys = ", ".join(sorted(self.secret_keys))
        return f"{self.source}: not decrypted, {why}; planned with placeholders: {keys}"

    def runtime_config(self) -> dict[str, str]:
        """The config map as the language host passes it: every value a string, structures as JSON."""
        return {key: _as_runtime_string(value) for key, value in self.values.items()}


def _as_runtime_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _redact(value: Any, key: str) -> Any:
    """Replace ``secure:`` ciphertext with a placeholder: the offline engine never decrypts."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return f"{OFFLINE_PLACEHOLDER}{key}"
        return {k: _redact(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, key) for v in value]
    return value


def stack_names(root: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def read_stack_file(root: Path, stack: str, project: str = PROJECT) -> StackFile:
    """Parse and normalise a stack file. Raises UsageError (no such stack) or ConfigError (bad YAML/shape)."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(stack_names(root)) or "none"
        raise UsageError(f"no stack file {path.name} in {root} (stacks here: {known})")
    try:
        document = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{path.name}: {where}malformed YAML: {problem}; fix the indentation or quoting"]) from None
    if not isinstance(document, dict):
        raise ConfigError([f"{path.name}: the file must be a mapping with a 'config:' key"])
    problems = [
        f"{path.name}: {key}: unknown top-level key (valid: {', '.join(sorted(_ALLOWED_TOP_LEVEL))})"
        for key in document
        if key not in _ALLOWED_TOP_LEVEL
    ]
    config = document.get("config") or {}
    if not isinstance(config, dict):
        problems.append(f"{path.name}: config: must be a mapping of 'namespace:key' to values")
    if problems:
        raise ConfigError(problems)
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for raw_key, value in config.items():
        # Pulumi reads an un-namespaced key as belonging to the project.
        key = raw_key if ":" in str(raw_key) else f"{project}:{raw_key}"
        if _has_secure(value):
            secret_keys.add(key)
            value = _redact(value, key)
        values[key] = value
    return StackFile(
        stack=stack,
        path=path,
        values=values,
        secret_keys=frozenset(secret_keys),
        secrets_provider=str(document.get("secretsprovider") or "passphrase"),
        has_encrypted_key=bool(document.get("encryptedkey")),
    )
