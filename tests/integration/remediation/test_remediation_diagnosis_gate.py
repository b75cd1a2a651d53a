"""The diagnosis gate in a remediation pass: objects of a reason that needs a fix stay BLOCKED while
the checks their reason names FAIL (the incident records which, with the fix), and are re-driven in
the pass in which those checks pass, the incident resolved by diagnosis; an operator override
(`replimend incident fixed`) still opens the gate, recorded as resolved_by operator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from replimend.diagnose import Setup
from replimend.models import ObjectRef, ObjectState
from replimend.remediate.gate import DiagnosisGate
from tests.fakes import FakeConfigReader
from tests.integration.remediation.conftest import DEST, SOURCE, World

GATED = "DstPutObjectNotPermitted"


def _state(world: World, key: str, version: str | None) -> ObjectState:
    record = world.ledger.get_failure(ObjectRef(SOURCE, key, version, DEST))
    assert record is not None
    return record.state


@pytest.fixture
def reader() -> FakeConfigReader:
    broken = FakeConfigReader(SOURCE, DEST)
    broken.allowed = {"s3:GetReplicationConfiguration", "s3:ListBucket", "s3:ReplicateDelete"}
    return broken


def test_objects_wait_for_their_checks_and_go_the_pass_they_pass(
    world: World, reader: FakeConfigReader
) -> None:
    # Given a failure whose cause (the role may not s3:ReplicateObject) is still there
    version = world.fail("a.bin", reason=GATED)
    gate = DiagnosisGate(world.ledger, reader, Setup())
    # When a pass runs, Then the object is held and the incident names the failing check and its fix
    result = world.remediation(gate=gate).run()
    assert result.jobs == [] and result.sources[0].blocked == 1
    assert _state(world, "a.bin", version) is ObjectState.BLOCKED
    incident = world.ledger.get_incident(SOURCE, DEST, GATED)
    assert incident is not None and not incident.fixed and incident.resolved_by is None
    assert "replication_role_destination_permissions FAIL" in (incident.last_diagnosis or "")
    assert "aws iam put-role-policy --role-name replication" in (incident.last_diagnosis or "")
    failing = [c for c in incident.last_checks if c["status"] == "FAIL"]
    assert [c["name"] for c in failing] == ["replication_role_destination_permissions"]
    assert failing[0]["fix"].startswith("aws iam put-role-policy") and failing[0]["evidence"]
    # When the operator grants the permission (declaring nothing) and the next pass runs
    reader.allowed = {"*"}
    world.expect_create_job("job-1")
    result = world.remediation(gate=gate).run()
    # Then the object goes to a job in that pass, and the incident is resolved by diagnosis
    assert result.jobs == ["job-1"] and result.sources[0].unblocked == 1
    assert _state(world, "a.bin", version) is ObjectState.IN_JOB
    incident = world.ledger.get_incident(SOURCE, DEST, GATED)
    assert incident is not None and incident.fixed and incident.resolved_by == "diagnosis"
    assert {c["status"] for c in incident.last_checks} <= {"PASS", "SKIP"}


def test_an_operator_override_opens_the_gate_without_a_diagnosis(
    world: World, reader: FakeConfigReader
) -> None:
    # Given a cause the checks still see as broken, overridden by an operator
    version = world.fail("b.bin", reason=GATED)
    world.ledger.set_incident_fixed(SOURCE, DEST, GATED, actor="operator:alice")
    world.expect_create_job("job-1")
    # When a pass runs, Then the object goes to a job, and the incident says an operator released it
    result = world.remediation(gate=DiagnosisGate(world.ledger, reader)).run()
    assert result.jobs == ["job-1"] and _state(world, "b.bin", version) is ObjectState.IN_JOB
    assert "operator override by operator:alice" in result.gate[f"{SOURCE} -> {DEST}: {GATED}"]
    incident = world.ledger.get_incident(SOURCE, DEST, GATED)
    assert incident is not None and incident.resolved_by == "operator"


def test_a_dry_run_resolves_nothing(world: World) -> None:
    world.fail("c.bin", reason=GATED)
    result = world.remediation(gate=DiagnosisGate(world.ledger, FakeConfigReader(SOURCE, DEST))).run(
        dry_run=True
    )
    assert "diagnosis passes" in result.gate[f"{SOURCE} -> {DEST}: {GATED}"]
    incident = world.ledger.get_incident(SOURCE, DEST, GATED)
    assert incident is not None and not incident.fixed


def test_a_diagnosis_that_cannot_run_holds_the_objects(world: World) -> None:
    class Broken(FakeConfigReader):
        def role(self, role_arn: str) -> object:  # type: ignore[override]
            raise RuntimeError("no network")

    version = world.fail("d.bin", reason=GATED)
    result = world.remediation(gate=DiagnosisGate(world.ledger, Broken(SOURCE, DEST))).run()
    assert result.jobs == [] and _state(world, "d.bin", version) is ObjectState.BLOCKED
    assert "diagnosis could not run (RuntimeError" in result.gate[f"{SOURCE} -> {DEST}: {GATED}"]


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))


def test_people_are_told_once_when_an_incident_opens_and_once_when_it_resolves(
    world: World, reader: FakeConfigReader
) -> None:
    # Given a held incident and a notifier
    world.fail("e.bin", reason=GATED)
    world.fail("f.bin", reason=GATED)
    notifier = RecordingNotifier()
    gate = DiagnosisGate(world.ledger, reader)

    def run() -> list[tuple[str, str]]:
        remediation = world.remediation(gate=gate)
        remediation.notifier = notifier
        remediation.run()
        sent, notifier.sent = notifier.sent, []
        return sent

    # When passes run while it is broken, Then one alert (the new incident, with the check and fix)
    ((subject, message),) = run()
    assert subject == f"replimend: new incident: {GATED} ({SOURCE})"
    assert "2 object(s)" in message and "replication_role_destination_permissions" in message
    assert "aws iam put-role-policy --role-name replication" in message
    assert run() == []
    # When it is fixed, Then one alert: resolved by diagnosis
    reader.allowed = {"*"}
    world.expect_create_job("job-1")
    ((subject, _message),) = run()
    assert subject == f"replimend: {GATED} resolved by diagnosis ({SOURCE})"


def test_an_incident_still_open_is_recalled_once_per_interval(world: World, reader: FakeConfigReader) -> None:
    # Given a held incident, announced when it opened
    world.fail("g.bin", reason=GATED)
    notifier = RecordingNotifier()
    gate = DiagnosisGate(world.ledger, reader)

    def run() -> list[str]:
        remediation = world.remediation(gate=gate)
        remediation.notifier = notifier
        result = remediation.run()
        assert result.open_incidents == 1 and result.oldest_due_age() > 0
        sent, notifier.sent = notifier.sent, []
        return [subject for subject, _ in sent]

    assert run() == [f"replimend: new incident: {GATED} ({SOURCE})"]
    # When it is still open after the reminder interval (24 h by default), Then one reminder
    world.clock.advance(hours=25)
    ((subject,),) = [run()]
    assert subject.startswith("replimend: still open after 25h") and GATED in subject
    # and none in the next pass, however soon; one again after another interval
    assert run() == []
    world.clock.advance(hours=24)
    assert len(run()) == 1


def test_concurrent_passes_claim_one_reminder(world: World) -> None:
    # Given an incident open for two days
    world.fail("h.bin", reason=GATED)
    world.clock.advance(hours=48)
    interval = timedelta(hours=24)
    # When two passes claim its reminder at once, Then only the first may send it
    claims = [world.ledger.claim_incident_reminder(SOURCE, DEST, GATED, interval=interval) for _ in range(2)]
    assert claims == [True, False]
    incident = world.ledger.get_incident(SOURCE, DEST, GATED)
    assert incident is not None and incident.last_reminded_at == world.clock.now
    # and a fixed incident is never reminded of
    world.ledger.set_incident_fixed(SOURCE, DEST, GATED, actor="operator:alice")
    world.clock.advance(hours=48)
    assert not world.ledger.claim_incident_reminder(SOURCE, DEST, GATED, interval=interval)
