"""Pub/Sub subscription filters, evaluated on a message's attributes as Pub/Sub does before delivery
(https://cloud.google.com/pubsub/docs/subscription-message-filter): a message the filter rejects is acknowledged
on the subscription's behalf and never delivered.

The syntax is Google's: ``attributes:KEY`` (has the attribute), ``attributes.KEY = "v"`` and ``!=``,
``hasPrefix(attributes.KEY, "p")``, ``NOT`` (or ``-``), ``AND``, ``OR`` and parentheses; AND and OR may not be mixed
without parentheses. No library implements it in Python, so this is a small recursive-descent parser; anything
outside the syntax is a ValueError naming the filter, as the API refuses it when the subscription is created.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

Predicate = Callable[[Mapping[str, str]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<attr>attributes(?:\.|:)[A-Za-z0-9_.~+%-]+)
      | (?P<op>!=|=|\(|\)|,|-)
      | (?P<word>[A-Za-z]+)
    )""",
    re.X,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"unreadable subscription filter at {text[position:]!r}: {text}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def fail(self, why: str) -> ValueError:
        return ValueError(f"subscription filter {self.text!r}: {why}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise self.fail(f"expected {value or kind} at token {self.at + 1}")
        self.at += 1
        return token[1]

    def parse(self) -> Predicate:
        predicate = self.expression()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def expression(self) -> Predicate:
        terms = [self.term()]
        joiner = None
        while (token := self.peek()) is not None and token == ("word", token[1]) and token[1] in ("AND", "OR"):
            if joiner not in (None, token[1]):
                raise self.fail("AND and OR need parentheses to be combined")
            joiner = token[1]
            self.at += 1
            terms.append(self.term())
        if joiner is None:
            return terms[0]
        combine = all if joiner == "AND" else any
        return lambda attributes: combine(term(attributes) for term in terms)

    def term(self) -> Predicate:
        token = self.peek()
        if token in (("word", "NOT"), ("op", "-")):
            self.at += 1
            inner = self.term()
            return lambda attributes: not inner(attributes)
        if token == ("op", "("):
            self.at += 1
            inner = self.expression()
            self.take("op", ")")
            return inner
        if token == ("word", "hasPrefix"):
            self.at += 1
            self.take("op", "(")
            key = self._key(self.take("attr"), ".")
            self.take("op", ",")
            prefix = json.loads(self.take("string"))
            self.take("op", ")")
            return lambda attributes: attributes.get(key, "").startswith(prefix) and key in attributes
        attr = self.take("attr")
        if attr.startswith("attributes:"):
            key = self._key(attr, ":")
            return lambda attributes: key in attributes
        key = self._key(attr, ".")
        op = self.take("op")
        if op not in ("=", "!="):
            raise self.fail(f"expected = or != after {attr}")
        value = json.loads(self.take("string"))
        if op == "=":
            return lambda attributes: attributes.get(key) == value
        return lambda attributes: key in attributes and attributes[key] != value

    def _key(self, attr: str, separator: str) -> str:
        if not attr.startswith(f"attributes{separator}"):
            raise self.fail(f"expected attributes{separator}KEY, got {attr}")
        return attr[len("attributes") + 1 :]


def compile_filter(text: str | None) -> Predicate:
    """A predicate on a message's attributes: True when the subscription delivers it (always, without a filter)."""
    if not text or not text.strip():
        return lambda attributes: True
    return _Parser(text).parse()
