"""Opaque pagination cursors for the audit API.

A cursor is the position of the last item of a page in the query's order, plus a digest of the
query's filters, as base64url JSON with a checksum. It is not a secret and not a signature: the
checksum and a strict model reject a cursor that was cut, edited or made for another query, with a
clear message (HTTP 400), instead of silently returning another page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from replimend.errors import ReplimendError

CURSOR_VERSION = 1


class CursorError(ReplimendError):
    """A cursor that is not one this API made for this query."""


class FailureCursor(BaseModel):
    """Where a page of /failures ended: the last record's source and (first seen, key, version,
    destination), the order the ledger produces a source's failures in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = Field(ge=CURSOR_VERSION, le=CURSOR_VERSION)
    query: str = Field(min_length=16, max_length=16)  # digest of the filters it was made for
    source: str = Field(min_length=1)
    seen: datetime
    key: str
    version: str  # "" for the null version
    destination: str = Field(min_length=1)

    def position(self) -> tuple[datetime, str, str, str]:
        return (self.seen, self.key, self.version, self.destination)


def query_digest(filters: Mapping[str, Any]) -> str:
    text = json.dumps({k: str(v) for k, v in sorted(filters.items()) if v is not None}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def encode_cursor(cursor: FailureCursor) -> str:
    payload = cursor.model_dump_json().encode()
    check = hashlib.blake2b(payload, digest_size=8).hexdigest()
    return base64.urlsafe_b64encode(check.encode() + b"." + payload).decode().rstrip("=")


def decode_cursor(text: str, filters: Mapping[str, Any]) -> FailureCursor:
    """The cursor ``text`` stands for; CursorError when it is malformed or belongs to another query."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        check, _, payload = raw.partition(b".")
        if hashlib.blake2b(payload, digest_size=8).hexdigest().encode() != check:
            raise CursorError("cursor is corrupt: pass the next_cursor of the previous page unchanged")
        cursor = FailureCursor.model_validate_json(payload)
    except (binascii.Error, ValueError, ValidationError) as exc:
        if isinstance(exc, CursorError):
            raise
        raise CursorError(
            "cursor is malformed: pass the next_cursor of the previous page unchanged"
        ) from None
    if cursor.query != query_digest(filters):
        raise CursorError("cursor belongs to a query with other filters: repeat that query's parameters")
    return cursor
