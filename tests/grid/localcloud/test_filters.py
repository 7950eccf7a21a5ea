"""Pub/Sub subscription filters as the local cloud evaluates them (grid/localcloud/filters.py), on the examples of
https://cloud.google.com/pubsub/docs/subscription-message-filter."""

from __future__ import annotations

import pytest

from grid.localcloud.filters import compile_filter

SCRAPED = {"type": "item.scraped", "id": "1"}
CREATED = {"type": "message.created", "id": "2"}
BARE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        (None, [SCRAPED, CREATED, BARE]),
        ("", [SCRAPED, CREATED, BARE]),
        ('attributes.type = "item.scraped"', [SCRAPED]),
        ('attributes.type != "item.scraped"', [CREATED]),  # != needs the attribute
        ("attributes:type", [SCRAPED, CREATED]),
        ("NOT attributes:type", [BARE]),
        ("-attributes:type", [BARE]),
        ('hasPrefix(attributes.type, "item.")', [SCRAPED]),
        ('attributes.type = "item.scraped" OR attributes.type = "message.created"', [SCRAPED, CREATED]),
        ('attributes:id AND NOT attributes.type = "message.created"', [SCRAPED]),
        ('(attributes.id = "1" OR attributes.id = "2") AND attributes.type = "item.scraped"', [SCRAPED]),
        ('attributes.type = "say \\"hi\\""', []),
    ],
)
def test_a_filter_admits_what_pubsub_would_deliver(text: str | None, admitted: list[dict]) -> None:
    admits = compile_filter(text)
    assert [a for a in (SCRAPED, CREATED, BARE) if admits(a)] == admitted


@pytest.mark.parametrize(
    "text",
    [
        'attributes.type = "a" AND attributes.id = "1" OR attributes:x',  # AND with OR needs parentheses
        "attributes.type = item",  # values are quoted
        'attributes.type == "a"',
        'data = "x"',
        "(attributes:type",
        "attributes.type",
    ],
)
def test_what_pubsub_would_refuse_is_one_line_naming_the_filter(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        compile_filter(text)
    assert "\n" not in str(caught.value) and text in str(caught.value)
