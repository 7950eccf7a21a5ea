"""What every Grid config model shares: strict camelCase models and how Pulumi hands config values over."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigModel(BaseModel):
    """Frozen, camelCase keys as Pulumi users write them, unknown keys are errors, defaults validated too."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, validate_default=True)


def decode_config_value(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON strings; stack files give it parsed."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
