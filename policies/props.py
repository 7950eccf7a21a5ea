"""Unknown-aware access to resource properties.

During `pulumi preview` the engine sends values that depend on other resources' outputs as
sentinel strings, and pulumi_policy wraps the properties in proxies that raise
`UnknownValueError` the moment such a value is read. A rule that reads one would be reported as
"can't run policy during preview" instead of judging what *is* known. So every rule works on a
plain copy made by `plain()`, where each unknown value is the `UNKNOWN` marker, and reads it
with `get()`. A rule treats UNKNOWN as "cannot judge yet": the engine analyses the resource
again during `pulumi up`, when the value is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import Secret
from pulumi_policy import proxy as _proxy

# Every sentinel the engine may send for a computed value (pulumi_policy/proxy.py).
UNKNOWN_SENTINELS: Final = frozenset(
    {
        _proxy.UNKNOWN_BOOLEAN_VALUE,
        _proxy.UNKNOWN_NUMBER_VALUE,
        _proxy.UNKNOWN_STRING_VALUE,
        _proxy.UNKNOWN_ARRAY_VALUE,
        _proxy.UNKNOWN_ASSET_VALUE,
        _proxy.UNKNOWN_ARCHIVE_VALUE,
        _proxy.UNKNOWN_OBJECT_VALUE,
    }
)


class _Unknown:
    """Marker for a value the engine cannot know before the update runs."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        # Truthiness of an unknown must never pass for "enabled" or "disabled".
        raise TypeError("UNKNOWN has no truth value; compare it explicitly with is_known()")


UNKNOWN: Final = _Unknown()


def is_known(value: Any) -> bool:
    return value is not UNKNOWN


def plain(value: Any) -> Any:
    """A plain dict/list copy of `value` (proxied or not) with unknown sentinels as UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        target = _unwrap(value)
        return {key: plain(target[key]) for key in target}
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        target = _unwrap(value)
        return [plain(target[index]) for index in range(len(target))]
    if isinstance(value, Secret):
        return plain(value.value)
    return value


def _unwrap(container: Any) -> Any:
    """The raw container behind a pulumi_policy proxy, so reading it never raises."""
    if isinstance(container, (dict, list, tuple)):
        return container
    try:
        return container["__target"]
    except (KeyError, TypeError, IndexError):
        return container


def get(props: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path (`settings.ipConfiguration.ipv4Enabled`).

    Returns `default` when any step is missing or null, and UNKNOWN when any step is unknown.
    """
    current = props
    for key in path.split("."):
        if current is UNKNOWN:
            return UNKNOWN
        if not isinstance(current, Mapping) or current.get(key) is None:
            return default
        current = current[key]
    return current


def items(props: Any, path: str) -> list[Any] | _Unknown:
    """The list at `path` ([] when absent), or UNKNOWN when the list itself is unknown."""
    value = get(props, path, [])
    if value is UNKNOWN:
        return UNKNOWN
    return list(value) if isinstance(value, list) else []


def known_items(props: Any, path: str) -> list[Any]:
    """The known elements of the list at `path`; unknown lists and elements are skipped."""
    value = items(props, path)
    if value is UNKNOWN:
        return []
    return [element for element in value if element is not UNKNOWN]


def as_number(value: Any) -> float | None:
    """A number from an int, float or numeric string (config and Struct values arrive as floats)."""
    if value is None or value is UNKNOWN or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def container_env(containers: list[Any]) -> dict[str, Any]:
    """Plain environment variables (name -> value) of a Cloud Run template's containers; secret references have
    no ``value`` and map to None."""
    return {e.get("name"): e.get("value") for c in containers for e in known_items(c, "envs") if isinstance(e, dict)}
