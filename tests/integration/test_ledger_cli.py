"""`replimend history | incidents | audit` against a moto ledger."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from replimend.ledger import Ledger
from replimend.models import Action, ObjectRef, ObjectState
from replimend_cli import main
from tests.integration.ledger_helpers import RETRY, RETRY_AFTER_FIX, T0, FakeClock, classified, failure_event

SHARDS = 4


@pytest.fixture
def seeded(ledger_table: Any, ledger_table_name: str, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A ledger with a key failing towards two destinations, a blocked incident and another bucket."""
    monkeypatch.setenv("LEDGER_TABLE", ledger_table_name)
    monkeypatch.setenv("LEDGER_INDEX_SHARDS", str(SHARDS))
    clock = FakeClock()
    ledger = Ledger(ledger_table, index_shards=SHARDS, clock=clock)
    ledger.record_event(failure_event(key="docs/a b.txt", destination="dst-1", at=T0), RETRY_AFTER_FIX)
    ledger.record_event(
        failure_event(key="docs/a b.txt", destination="dst-2", at=T0 + timedelta(seconds=5)), RETRY
    )
    clock.advance(minutes=5)
    record = ledger.get_failure(ObjectRef("src-bucket", "docs/a b.txt", "v1", "dst-2"))
    assert record is not None
    ledger.transition(record, ObjectState.IN_JOB, reason="job started", actor="remediate", job_id="job-7")
    ledger.record_event(
        failure_event(key="other", source="other-src", at=T0 + timedelta(minutes=1), reason="X"),
        classified(Action.RETRY, "X"),
    )
    return ledger


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_history_prints_the_trail_across_destinations_as_json_lines(
    seeded: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    # When an operator asks for an object's history
    status = main(["history", "s3://src-bucket/docs/a b.txt", "--json"])
    # Then every event and transition of both destinations is printed, oldest first
    assert status == 0
    rows = json_lines(capsys.readouterr().out)
    assert [(r["kind"], r["destination_bucket"], r["to_state"]) for r in rows] == [
        ("event", "dst-1", None),
        ("event", "dst-2", None),
        ("transition", "dst-1", "FAILED"),
        ("transition", "dst-2", "FAILED"),
        ("transition", "dst-2", "IN_JOB"),
    ]
    assert rows[-1]["job_id"] == "job-7" and rows[-1]["actor"] == "remediate"
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)


def test_history_prints_a_table_by_default(seeded: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "s3://src-bucket/docs/a b.txt"]) == 0
    out = capsys.readouterr().out
    assert "History of s3://src-bucket/docs/a b.txt" in out
    assert "FAILED → IN_JOB" in out and "job-7" in out and "AssumeRoleNotPermitted" in out


@pytest.mark.parametrize("url", ["src-bucket/key", "s3://src-bucket", "s3://src-bucket/", "s3:///key"])
def test_history_rejects_a_bad_url(seeded: Ledger, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["history", url])
    assert exited.value.code == 2
    assert "s3://BUCKET/KEY" in capsys.readouterr().err


def test_no_table_named_is_a_configuration_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LEDGER_TABLE", raising=False)
    assert main(["incidents"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LEDGER_TABLE" in err and "--stack" in err


def test_an_aws_failure_exits_1_with_one_line(seeded: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "--table", "no-such-table"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("replimend: error:") and "ResourceNotFoundException" in err


def test_incidents_lists_open_ones_and_all_with_flag(
    seeded: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "--json"]) == 0
    (row,) = json_lines(capsys.readouterr().out)
    assert (row["source_bucket"], row["destination_bucket"], row["failure_reason"], row["object_count"]) == (
        "src-bucket",
        "dst-1",
        "AssumeRoleNotPermitted",
        1,
    )
    seeded.set_incident_fixed("src-bucket", "dst-1", "AssumeRoleNotPermitted", actor="operator:ana")
    assert main(["incidents", "--json"]) == 0
    assert json_lines(capsys.readouterr().out) == []
    assert main(["incidents", "--all"]) == 0
    out = capsys.readouterr().out
    assert "AssumeRoleNotPermitted" in out and "operator:ana" in out


def test_audit_by_bucket_with_a_time_window(seeded: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    since = (T0 + timedelta(seconds=1)).isoformat()
    until = (T0 + timedelta(seconds=30)).isoformat()
    assert main(["audit", "--bucket", "src-bucket", "--since", since, "--until", until, "--json"]) == 0
    rows = json_lines(capsys.readouterr().out)
    assert [(r["kind"], r["destination_bucket"]) for r in rows] == [("event", "dst-2")]
    assert main(["audit", "--bucket", "src-bucket", "--json", "--limit", "2"]) == 0
    assert len(json_lines(capsys.readouterr().out)) == 2


def test_audit_by_reason_and_by_state(seeded: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--reason", "X", "--json"]) == 0
    rows = json_lines(capsys.readouterr().out)
    assert {r["source_bucket"] for r in rows} == {"other-src"} and len(rows) == 2
    assert main(["audit", "--state", "FAILED", "--json"]) == 0
    failed = json_lines(capsys.readouterr().out)
    assert sorted((r["source_bucket"], r["destination_bucket"]) for r in failed) == [
        ("other-src", "dst-bucket"),
        ("src-bucket", "dst-1"),
    ]
    assert main(["audit", "--state", "IN_JOB"]) == 0
    out = capsys.readouterr().out
    assert "Objects in IN_JOB" in out and "job-7" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["audit"],
        ["audit", "--bucket", "b", "--reason", "r"],
        ["audit", "--state", "NOPE"],
        ["audit", "--bucket", "b", "--since", "yesterday"],
        ["audit", "--bucket", "b", "--since", "2024-09-06T00:00:00", "--until", "2024-09-05T00:00:00"],
    ],
)
def test_audit_rejects_bad_arguments(seeded: Ledger, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
