"""What ``grid plan`` hands the program for a ``secure:`` value it cannot decrypt (grid/stackfile.py): such a value is
not checked (components/external.py); the real one is, by the same program, under `pulumi preview`/`up`, which
decrypts it."""

from __future__ import annotations

OFFLINE_PLACEHOLDER = "offline-placeholder-for-"
