"""The cause gate (retry_after_fix waits for its incident to be fixed) and the operator CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from replimend.models import ObjectRef, ObjectState
from replimend_cli import main
from tests.integration.remediation.conftest import ACCOUNT, DEST, MANIFESTS, REPORTS, SOURCE, World

GATED = "DstPutObjectNotPermitted"


def state(world: World, key: str, version: str | None) -> ObjectState:
    record = world.ledger.get_failure(ObjectRef(SOURCE, key, version, DEST))
    assert record is not None
    return record.state


def test_retry_after_fix_is_blocked_until_the_incident_is_fixed(world: World) -> None:
    # Given a failure whose cause needs a fix, and its incident still open
    version = world.fail("locked.bin", reason=GATED)
    # When a pass runs / Then no job: the object is BLOCKED and the gate says why
    result = world.remediation().run()
    assert result.jobs == [] and result.sources[0].blocked == 1
    assert state(world, "locked.bin", version) is ObjectState.BLOCKED
    assert "waiting for the cause" in result.gate[f"{SOURCE} -> {DEST}: {GATED}"]
    incident = world.ledger.get_incident(SOURCE, DEST, GATED)
    assert incident is not None and "waiting" in (incident.last_diagnosis or "")
    # And passes keep it blocked while the incident is open
    assert world.remediation().run().jobs == []
    # When the operator marks the incident fixed
    world.ledger.set_incident_fixed(SOURCE, DEST, GATED, actor="operator:test")
    world.expect_create_job("job-1")
    result = world.remediation().run()
    # Then BLOCKED → FAILED → IN_JOB in one pass
    assert result.jobs == ["job-1"] and result.sources[0].unblocked == 1
    assert state(world, "locked.bin", version) is ObjectState.IN_JOB
    transitions = [
        (h.from_state, h.to_state)
        for h in world.ledger.history(SOURCE, "locked.bin")
        if h.kind == "transition"
    ]
    assert transitions[-3:] == [
        (ObjectState.FAILED, ObjectState.BLOCKED),
        (ObjectState.BLOCKED, ObjectState.FAILED),
        (ObjectState.FAILED, ObjectState.IN_JOB),
    ]


def test_plain_retry_failures_are_not_gated(world: World) -> None:
    world.fail("a", reason="DstVersionNotFound")
    world.fail("b", reason=GATED)
    world.expect_create_job("job-1")
    result = world.remediation().run()
    assert result.sources[0].planned == 1 and result.sources[0].blocked == 1


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    env = {
        "LEDGER_TABLE": world.settings.ledger_table,
        "LEDGER_INDEX_SHARDS": "4",
        "ACCOUNT_ID": ACCOUNT,
        "MANIFEST_BUCKET": MANIFESTS,
        "REPORT_BUCKET": REPORTS,
        "BATCH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/replimend-batch",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return world


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_cli_incident_fixed_then_remediate_dry_run(
    cli_env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = cli_env
    version = world.fail("locked.bin", reason=GATED)
    # When the operator overrides the gate through the CLI (`incident retry`; `fixed` is its older name)
    assert (
        main(
            [
                "incident",
                "retry",
                "--source",
                SOURCE,
                "--destination",
                DEST,
                "--reason",
                GATED,
                "--by",
                "ana",
                "--json",
            ]
        )
        == 0
    )
    (incident,) = lines(capsys)
    assert (
        incident["fixed"] and incident["fixed_by"] == "operator:ana" and incident["resolved_by"] == "operator"
    )
    # And asks for a dry run
    assert main(["remediate", "--dry-run", "--json"]) == 0
    source, summary = lines(capsys)
    # Then the plan says one object would go in a job, and nothing changed
    assert source["dry_run"] and source["planned"] == 1 and len(source["manifest_keys"]) == 1
    assert summary["jobs"] == []
    assert state(world, "locked.bin", version) is ObjectState.FAILED  # a dry run moves nothing
    # And reopen puts the gate back
    assert (
        main(["incident", "reopen", "--source", SOURCE, "--destination", DEST, "--reason", GATED, "--json"])
        == 0
    )
    assert lines(capsys)[0]["fixed"] is False


def test_cli_unknown_incident_is_a_usage_error(cli_env: World, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["incident", "fixed", "--source", SOURCE, "--destination", DEST, "--reason", "Nope"])
    assert exit_info.value.code == 2
    assert "no incident" in capsys.readouterr().err


def test_cli_jobs_lists_outcomes(cli_env: World, capsys: pytest.CaptureFixture[str]) -> None:
    world = cli_env
    world.fail("a")
    world.expect_create_job("job-1")
    world.remediation().run()
    assert main(["jobs", "--json"]) == 0
    (job,) = lines(capsys)
    assert (job["job_id"], job["status"], job["outcome"], job["object_count"]) == ("job-1", "New", None, 1)
    assert main(["jobs", "--active"]) == 0
    assert "job-1" in capsys.readouterr().out


def test_cli_without_settings_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LEDGER_TABLE", raising=False)
    assert main(["jobs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LEDGER_TABLE" in err


def test_cli_remediate_dry_run_json_has_only_json_on_stdout(
    cli_env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging
    import sys

    from replimend.observability import logger

    # Given the functions' logger writing to stdout, as in Lambda (pytest swapped stdout since import)
    logger.setLevel("INFO")
    for handler in logging.getLogger(logger.name).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stdout)
    cli_env.fail("a", reason="DstVersionNotFound")
    # When a dry run prints JSON
    assert main(["remediate", "--dry-run", "--output", "json"]) == 0
    captured = capsys.readouterr()
    # Then every stdout line is JSON, and the pass's log line went to stderr
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert rows[0]["planned"] == 1 and rows[-1]["summary"] is True
    assert "would start a job" in captured.err
