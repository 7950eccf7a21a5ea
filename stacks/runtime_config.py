"""Read the running stack's whole config map from the Pulumi runtime, so unknown keys can be reported."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config


def current_config() -> tuple[dict[str, Any], frozenset[str]]:
    """(every config key -> value, keys that are secrets) as the engine handed them to this program."""
    values: dict[str, Any] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    return values, frozenset(secret_keys)


def source_file() -> str:
    return f"Pulumi.{pulumi.get_stack()}.yaml"
