"""What every Grid config model shares: strict camelCase models and how Pulumi hands config values over."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel

ModelT = TypeVar("ModelT", bound=BaseModel)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, recursively: a partial block changes only the keys it names."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class ConfigModel(BaseModel):
    """Frozen, camelCase keys as Pulumi users write them, unknown keys are errors, defaults validated too.

    A field whose default is a block with values of its own (korean-nlp's 512Mi, ai's 2Gi) keeps them when the
    input names only some keys of that block: the input is merged onto the default, key by key, as a preset and
    a stack file are merged onto each other.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _onto_field_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            key = field.alias or name
            given = merged.get(key)
            if not isinstance(given, Mapping) or field.is_required():
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                merged[key] = deep_merge(default.model_dump(by_alias=True, exclude_unset=True), given)
        return merged


def decode_config_value(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON strings; stack files give it parsed."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def narrow(model: BaseModel, to: type[ModelT]) -> ModelT:
    """``model`` as the smaller model ``to``, keeping the fields they share: how a stack hands a component the
    part of a setting the component takes (a service's size, not its route or source)."""
    return to.model_validate(model.model_dump(by_alias=True, include=set(to.model_fields)))
