"""Opaque message cursors: a position in a conversation (its message `seq`), shared by paging and the stream."""

from __future__ import annotations

import base64
import binascii


class BadCursor(Exception):
    pass


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw[:1] != "s" or not raw[1:].isdigit():
            raise ValueError
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor() from None
