"""Turn validation failures into one line per problem: file, field path, what is wrong and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:  # an annotation only: `grid` commands that never validate a stack file skip importing pydantic
    from pydantic import ValidationError


class ConfigError(Exception):
    """Bad stack config. ``lines`` holds one self-contained message per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def suggest(value: str, options: Iterable[str]) -> str:
    """A '; did you mean ...?' hint for a near miss, or ''."""
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _path(loc: tuple[int | str, ...], namespaced: Mapping[str, str]) -> str | None:
    parts = [str(p) for p in loc if not str(p).startswith("function-")]
    if not parts:
        return None  # a whole-stack rule: its message names the keys itself
    head = namespaced.get(parts[0], f"grid:{parts[0]}")
    rest = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts[1:])
    return head + rest


def _got(value: Any) -> str:
    return f" (got {value!r})" if not isinstance(value, (dict, list)) else ""


def _known_keys(root: Any, loc: tuple[int | str, ...]) -> list[str]:
    """Valid sibling keys for an unknown-key error, read from the model that rejected it."""
    model = root
    for part in loc[:-1]:
        if "root" in model.model_fields:  # a name -> settings map (grid:services): the part is an entry's name
            annotation = get_args(model.model_fields["root"].annotation)[-1:] or [None]
            model = annotation[0]
            if not (isinstance(model, type) and hasattr(model, "model_fields")):
                return []
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and hasattr(annotation, "model_fields")):
            return []
        model = annotation
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _message(error: Any, root: Any) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "required: add this key to the stack file"
    if kind == "extra_forbidden":
        known = _known_keys(root, error["loc"])
        hint = suggest(str(error["loc"][-1]), known)
        listing = f" (valid: {', '.join(known)})" if known else ""
        return f"unknown key{hint}{listing}"
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}{_got(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number{_got(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number{_got(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false{_got(value)}"
    if kind in ("string_type",):
        return f"must be a string{_got(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys to values{_got(value)}"
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "less_than_equal": ("<=", "le"),
        "greater_than": (">", "gt"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        op, key = bounds[kind]
        return f"must be {op} {ctx.get(key)}{_got(value)}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return f"{str(error['msg'])[:1].lower()}{str(error['msg'])[1:]}{_got(value)}"


def format_validation_error(exc: ValidationError, root: Any, source: str, namespaced: Mapping[str, str]) -> list[str]:
    """One line per pydantic error of ``root`` (the model validated): ``<file>: <grid:path>: <message>``."""
    lines = []
    for error in exc.errors(include_url=False):
        path = _path(error["loc"], namespaced)
        lines.append(f"{source}: {path + ': ' if path else ''}{_message(error, root)}")
    return list(dict.fromkeys(lines))
