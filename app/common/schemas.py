"""Base model for request bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored or processed as text, or None. JSON may carry both NUL (which Postgres text
    refuses) and lone UTF-16 surrogates such as "\\ud800" (which no UTF-8 encoder, tokenizer or database accepts)."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode: an unpaired UTF-16 surrogate (\\ud800-\\udfff) is not a character"
    return None


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        if problem := text_problem(value):
            raise ValueError(problem)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)


class RequestBody(BaseModel):
    """Unknown fields are errors (typos fail loudly), and no string, however deep in the body, may hold what text
    cannot (see `text_problem`)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_text(cls, value: Any) -> Any:
        _check_text(value)
        return value
