"""Incidents: failures of one reason from one source to one destination — one cause to fix.

Item: pk I#<source>#<destination>#<reason>, sk I. The open/fixed listing is the ``Lists`` index
(keys only: list_pk INCIDENT#OPEN|INCIDENT#FIXED, list_sk <source>#<destination>#<reason>), so a
count update never rewrites an index entry; only opening and fixing move it.

Ingest does not touch an incident per event: ``IncidentTally`` adds up a batch and writes each
incident once per batch (``flush``), so a storm on one cause costs one write per batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from replimend.errors import ConflictError, NotFoundError
from replimend.ledger.table import Clock, Item, Table, as_int, digest, format_time, maybe_time, parse_time
from replimend.lifecycle import incident_reopens
from replimend.models import Incident

LISTS_INDEX = "Lists"
INCIDENT_SK = "I"
OPEN = "INCIDENT#OPEN"
FIXED = "INCIDENT#FIXED"
MAX_WRITE_ATTEMPTS = 6


def incident_key(source_bucket: str, destination_bucket: str, reason: str) -> dict[str, str]:
    # A reason code from an event is at most a few dozen characters; a hostile one is hashed.
    reason_part = reason if len(reason) <= 128 else f"~{digest(reason)}"
    return {"pk": f"I#{source_bucket}#{destination_bucket}#{reason_part}", "sk": INCIDENT_SK}


def incident_from_item(item: Item) -> Incident:
    return Incident(
        source_bucket=str(item["source_bucket"]),
        destination_bucket=str(item["destination_bucket"]),
        failure_reason=str(item["failure_reason"]),
        opened_at=parse_time(str(item["opened_at"])),
        object_count=as_int(item.get("object_count")),
        fixed=bool(item.get("fixed", False)),
        fixed_at=maybe_time(item.get("fixed_at")),
        fixed_by=item.get("fixed_by"),
        last_diagnosis=item.get("last_diagnosis"),
        version=as_int(item.get("version")),
        last_checks=json.loads(str(item["last_checks"])) if item.get("last_checks") else [],
        last_reminded_at=maybe_time(item.get("last_reminded_at")),
    )


@dataclass
class _Tally:
    new_objects: int = 0
    latest: datetime | None = None


class IncidentStore:
    def __init__(self, table: Table, *, clock: Clock) -> None:
        self._table = table
        self._clock = clock
        self._pending: dict[tuple[str, str, str], _Tally] = {}

    # ------------------------------------------------------------------ batched counting

    def tally(
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        *,
        new_objects: int,
        at: datetime | None,
    ) -> None:
        """Count objects under an incident; written by ``flush`` (once per incident per batch)."""
        entry = self._pending.setdefault((source_bucket, destination_bucket, reason), _Tally())
        entry.new_objects += new_objects
        if at is not None and (entry.latest is None or at > entry.latest):
            entry.latest = at

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (source, destination, reason), entry in sorted(pending.items()):
            self._upsert(source, destination, reason, new_objects=entry.new_objects, at=entry.latest)

    # ------------------------------------------------------------------ writes

    def touch(
        self,
        source_bucket: str,
        destination_bucket: str,
        reason: str,
        *,
        new_objects: int = 0,
        at: datetime | None = None,
    ) -> Incident:
        """Open the incident if new, count ``new_objects`` more; ``at`` (a failure time) after the
        incident was marked fixed reopens it. With neither, an existing incident is left as it is."""
        return self._upsert(source_bucket, destination_bucket, reason, new_objects=new_objects, at=at)

    def _upsert(
        self, source: str, destination: str, reason: str, *, new_objects: int, at: datetime | None
    ) -> Incident:
        now = format_time(self._clock())
        key = incident_key(source, destination, reason)
        values: dict[str, Any] = {
            ":e": "incident",
            ":s": source,
            ":d": destination,
            ":r": reason,
            ":now": now,
            ":false": False,
            ":open": OPEN,
            ":lsk": f"{source}#{destination}#{reason}",
            ":n": new_objects,
            ":zero": 0,
        }
        names = {
            "#entity": "entity",
            "#src": "source_bucket",
            "#dst": "destination_bucket",
            "#reason": "failure_reason",
            "#opened": "opened_at",
            "#fixed": "fixed",
            "#lpk": "list_pk",
            "#lsk": "list_sk",
            "#count": "object_count",
            "#version": "version",
            "#last": "last_failure_at",
        }
        base = (
            "SET #entity = :e, #src = :s, #dst = :d, #reason = :r, #opened = if_not_exists(#opened, :now), "
            "#fixed = if_not_exists(#fixed, :false), #lpk = if_not_exists(#lpk, :open), #lsk = :lsk"
        )
        adds = " ADD #count :n, #version :zero"
        if at is not None:
            # last_failure_at only moves forward: a late batch must not set it back.
            values[":last"] = format_time(at)
            try:
                item = self._table.update(
                    key,
                    UpdateExpression=base + ", #last = :last" + adds,
                    ConditionExpression=Attr("last_failure_at").not_exists()
                    | Attr("last_failure_at").lt(values[":last"]),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ConflictError:
                del values[":last"]
                names.pop("#last")
                item = self._table.update(
                    key,
                    UpdateExpression=base + adds,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        else:
            names.pop("#last")
            item = self._table.update(
                key,
                UpdateExpression=base + adds,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        incident = incident_from_item(item)
        if incident_reopens(fixed=incident.fixed, fixed_at=incident.fixed_at, failure_at=at):
            incident = self._reopen(incident, at, now) or incident
        return incident

    def _reopen(self, incident: Incident, at: datetime | None, now: str) -> Incident | None:
        key = incident_key(incident.source_bucket, incident.destination_bucket, incident.failure_reason)
        try:
            item = self._table.update(
                key,
                UpdateExpression=(
                    "SET #fixed = :false, #lpk = :open, #reopened = :now, #because = :why, #version = :v1 "
                    "REMOVE #fixed_at, #fixed_by"
                ),
                ConditionExpression=Attr("version").eq(incident.version),
                ExpressionAttributeNames={
                    "#fixed": "fixed",
                    "#lpk": "list_pk",
                    "#reopened": "reopened_at",
                    "#because": "reopened_because",
                    "#version": "version",
                    "#fixed_at": "fixed_at",
                    "#fixed_by": "fixed_by",
                },
                ExpressionAttributeValues={
                    ":false": False,
                    ":open": OPEN,
                    ":now": now,
                    ":v1": incident.version + 1,
                    ":why": f"failure at {format_time(at) if at else now} after the fix",
                },
            )
        except ConflictError:
            return None  # someone else changed it first (reopened, or fixed again): theirs stands
        return incident_from_item(item)

    def set_fixed(
        self, source: str, destination: str, reason: str, *, actor: str, fixed: bool = True
    ) -> Incident:
        """Mark (or unmark) the cause fixed; NotFoundError for an unknown incident."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.get(source, destination, reason)
            if current is None:
                raise NotFoundError(f"no incident {source} -> {destination} {reason}")
            now = format_time(self._clock())
            sets: dict[str, Any] = {
                "fixed": fixed,
                "marked_by": actor,
                "marked_at": now,
                "list_pk": FIXED if fixed else OPEN,
                "version": current.version + 1,
            }
            removes = [] if fixed else ["fixed_at", "fixed_by"]
            if fixed:
                sets.update(fixed_at=now, fixed_by=actor)
            names = {f"#a{i}": name for i, name in enumerate([*sets, *removes])}
            by_name = {name: alias for alias, name in names.items()}
            expression = "SET " + ", ".join(f"{by_name[n]} = :a{i}" for i, n in enumerate(sets))
            if removes:
                expression += " REMOVE " + ", ".join(by_name[n] for n in removes)
            try:
                item = self._table.update(
                    incident_key(source, destination, reason),
                    UpdateExpression=expression,
                    ConditionExpression=Attr("version").eq(current.version),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={f":a{i}": v for i, v in enumerate(sets.values())},
                )
            except ConflictError:
                continue
            return incident_from_item(item)
        raise ConflictError(f"incident {source} -> {destination} {reason} kept changing")

    def record_diagnosis(
        self,
        source: str,
        destination: str,
        reason: str,
        summary: str,
        checks: Sequence[Mapping[str, Any]] = (),
    ) -> Incident:
        """The last diagnosis on the incident: its summary and (as one JSON attribute) its checks."""
        try:
            item = self._table.update(
                incident_key(source, destination, reason),
                UpdateExpression="SET #d = :d, #at = :at, #c = :c",
                ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeNames={
                    "#d": "last_diagnosis",
                    "#at": "last_diagnosis_at",
                    "#c": "last_checks",
                },
                ExpressionAttributeValues={
                    ":d": summary,
                    ":at": format_time(self._clock()),
                    ":c": json.dumps([dict(c) for c in checks], separators=(",", ":")),
                },
            )
        except ConflictError as exc:
            raise NotFoundError(f"no incident {source} -> {destination} {reason}") from exc
        return incident_from_item(item)

    def claim_reminder(self, source: str, destination: str, reason: str, *, interval: timedelta) -> bool:
        """Record that a reminder goes out now, if the incident is open, older than ``interval`` and not
        reminded within it; False when not (or another pass claimed it first: the condition makes
        concurrent passes send one reminder, not two). Times are fixed-width UTC text, so string
        order is time order (``format_time``)."""
        now = self._clock()
        cutoff = format_time(now - interval)
        try:
            self._table.update(
                incident_key(source, destination, reason),
                UpdateExpression="SET #r = :now",
                ConditionExpression=Attr("pk").exists()
                & (Attr("fixed").not_exists() | Attr("fixed").eq(False))
                & Attr("opened_at").lte(cutoff)
                & (Attr("last_reminded_at").not_exists() | Attr("last_reminded_at").lte(cutoff)),
                ExpressionAttributeNames={"#r": "last_reminded_at"},
                ExpressionAttributeValues={":now": format_time(now)},
            )
        except ConflictError:
            return False
        return True

    # ------------------------------------------------------------------ reads

    def get(self, source: str, destination: str, reason: str) -> Incident | None:
        item = self._table.get(**incident_key(source, destination, reason))
        return incident_from_item(item) if item else None

    def list(self, *, open_only: bool = True) -> list[Incident]:
        partitions = [OPEN] if open_only else [OPEN, FIXED]
        keys = [
            {"pk": str(k["pk"]), "sk": str(k["sk"])}
            for partition in partitions
            for k in self._keys(partition)
        ]
        found = self._table.batch_get(keys)
        incidents = [incident_from_item(item) for item in found.values()]
        # The index may lag a fix: keep each incident under the listing its item says.
        if open_only:
            incidents = [i for i in incidents if not i.fixed]
        return sorted(incidents, key=lambda i: (i.source_bucket, i.destination_bucket, i.failure_reason))

    def _keys(self, partition: str) -> Iterator[Item]:
        return self._table.query(IndexName=LISTS_INDEX, KeyConditionExpression=Key("list_pk").eq(partition))
