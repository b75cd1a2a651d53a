"""The audit API through its handler, over a ledger seeded in moto: answers, paging, errors, no scans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from replimend.audit.api import build_api, object_path
from replimend.audit.queries import AuditQueries, percentile
from replimend.ledger import Ledger
from replimend.models import MISSED_THRESHOLD, Action, JobRecord, ObjectState
from tests.integration.ledger_helpers import RETRY, RETRY_AFTER_FIX, T0, FakeClock, classified, failure_event


def http_event(path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event as API Gateway sends it."""
    raw_query = urlencode(query or {})
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": "api.example"},
        "queryStringParameters": {k: str(v) for k, v in (query or {}).items()} or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def scans(ledger_table: Any) -> list[str]:
    """The DynamoDB operations the API calls, to assert it never scans."""
    calls: list[str] = []
    ledger_table.meta.client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    return calls


@pytest.fixture
def ledger(ledger_table: Any, clock: FakeClock) -> Ledger:
    return Ledger(ledger_table, index_shards=4, clock=clock)


@pytest.fixture
def seeded(ledger: Ledger, clock: FakeClock) -> Ledger:
    """Given: three objects of src-bucket failed (one repaired after 2 hours, one of them twice: two
    versions), one of other-src; an incident diagnosed; a job; two RTC threshold misses of rule-1."""
    with ledger.batch():
        ledger.record_event(failure_event(key="a/one.txt", at=T0), RETRY_AFTER_FIX)
        ledger.record_event(failure_event(key="a/two.txt", at=T0 + timedelta(minutes=5)), RETRY_AFTER_FIX)
        ledger.record_event(failure_event(key="a/two.txt", version="v2", at=T0 + timedelta(hours=3)), RETRY)
        ledger.record_event(
            failure_event(key="b c.txt", source="other-src", reason="DstPutObjectNotPermitted", at=T0), RETRY
        )
        for n in range(2):
            miss = failure_event(
                key="a/one.txt", event_type=MISSED_THRESHOLD, reason=None, at=T0 + timedelta(minutes=n)
            )  # type: ignore[arg-type]
            ledger.record_event(miss, classified(Action.OBSERVE, None))
    clock.now = T0 + timedelta(hours=1)
    (record,) = ledger.version_records("src-bucket", "a/one.txt", "v1")
    record = ledger.transition(
        record, ObjectState.IN_JOB, reason="job started", actor="remediate", job_id="j1"
    )
    clock.now = T0 + timedelta(hours=2)
    ledger.transition(
        record, ObjectState.REPLICATED, reason="report: succeeded", actor="track_jobs", job_id="j1"
    )
    ledger.touch_incident("src-bucket", "dst-bucket", "AssumeRoleNotPermitted", new_objects=2, at=T0)
    ledger.record_diagnosis(
        "src-bucket",
        "dst-bucket",
        "AssumeRoleNotPermitted",
        "role not trusted",
        [{"check": "role-trust", "status": "FAIL", "fix": "aws iam update-assume-role-policy ..."}],
    )
    ledger.create_job(
        JobRecord(
            job_id="j1",
            source_bucket="src-bucket",
            destination_bucket="dst-bucket",
            status="Complete",
            client_request_token="t1",
            object_count=1,
            created_at=T0 + timedelta(hours=1),
            tasks_succeeded=1,
        )
    )
    return ledger


@pytest.fixture
def api(seeded: Ledger, clock: FakeClock) -> Iterator[Any]:
    app = build_api(lambda: AuditQueries(seeded, clock=clock))

    def call(path: str, **query: Any) -> tuple[int, Any]:
        response = app.resolve(http_event(path, query), {})
        return response["statusCode"], json.loads(response["body"])

    yield call


def test_failures_by_source_reason_state_and_time(api: Any, scans: list[str]) -> None:
    status, page = api("/failures", source="src-bucket")
    assert status == 200
    assert [(f["key"], f["version_id"], f["state"]) for f in page["items"]] == [
        ("a/one.txt", "v1", "REPLICATED"),
        ("a/two.txt", "v1", "FAILED"),
        ("a/two.txt", "v2", "FAILED"),
    ]
    assert page["next_cursor"] is None
    _, by_reason = api("/failures", reason="DstPutObjectNotPermitted")
    assert [(f["source_bucket"], f["key"]) for f in by_reason["items"]] == [
        ("other-src", "b c.txt"),
        ("src-bucket", "a/two.txt"),
    ]
    _, failed = api(
        "/failures", state="FAILED", source="src-bucket", since=(T0 + timedelta(hours=1)).isoformat()
    )
    assert [(f["key"], f["version_id"]) for f in failed["items"]] == [("a/two.txt", "v2")]
    _, replicated = api("/failures", state="REPLICATED")
    assert [f["key"] for f in replicated["items"]] == ["a/one.txt"]
    _, by_category = api("/failures", category="no-such-category")
    assert by_category["items"] == []
    assert "Scan" not in scans and {"Query", "BatchGetItem"} & set(scans)


def test_failures_page_through_every_record_once_with_opaque_cursors(api: Any) -> None:
    _, everything = api("/failures", limit=1000)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        status, page = api("/failures", limit=1, **({"cursor": cursor} if cursor else {}))
        assert status == 200 and len(page["items"]) <= 1
        seen += [(f["source_bucket"], f["key"], f["version_id"]) for f in page["items"]]  # type: ignore[misc]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert "src-bucket" not in cursor  # opaque
    assert seen == [(f["source_bucket"], f["key"], f["version_id"]) for f in everything["items"]]
    assert len(seen) == 4


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"state": "LOST"}, "state"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2024-09-06T00:00:00Z", "until": "2024-09-05T00:00:00Z"}, "since is after until"),
        ({"cursor": "not-a-cursor"}, "cursor is"),
    ],
)
def test_bad_parameters_are_400_with_a_message_naming_them(
    api: Any, query: dict[str, Any], words: str
) -> None:
    status, body = api("/failures", **query)
    assert status == 400
    assert words in body["message"]


def test_a_cursor_of_another_query_or_edited_is_refused(api: Any) -> None:
    _, page = api("/failures", limit=1)
    cursor = page["next_cursor"]
    status, body = api("/failures", limit=1, cursor=cursor, source="src-bucket")
    assert status == 400 and "other filters" in body["message"]
    edited = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    status, body = api("/failures", limit=1, cursor=edited)
    assert status == 400 and "cursor is" in body["message"]


def test_one_object_history_covers_every_version_and_slashes_in_keys(api: Any) -> None:
    status, body = api(object_path("src-bucket", "a/two.txt"))
    assert status == 200
    assert body["key"] == "a/two.txt"
    assert sorted(f["version_id"] for f in body["failures"]) == ["v1", "v2"]
    assert sorted(line["kind"] for line in body["history"]) == ["event", "event", "transition", "transition"]
    assert {line["version_id"] for line in body["history"]} == {"v1", "v2"}
    status, body = api(object_path("other-src", "b c.txt"))
    assert status == 200 and body["failures"][0]["failure_reason"] == "DstPutObjectNotPermitted"
    status, body = api(object_path("src-bucket", "never/seen.txt"))
    assert status == 404 and "never/seen.txt" in body["message"]


def test_an_object_by_key_parameter_and_a_path_api_gateway_may_have_decoded(api: Any, seeded: Ledger) -> None:
    # Given a key whose "%" a decoded path would lose
    seeded.record_event(failure_event(key="100%25 done?.txt"), RETRY)
    # When it is asked as a query parameter, or in a path API Gateway delivered decoded or not
    by_query = api("/objects/src-bucket", key="100%25 done?.txt")
    decoded_path = api("/objects/src-bucket/100%25 done?.txt")
    encoded_path = api(object_path("src-bucket", "100%25 done?.txt"))
    # Then each finds it
    for status, body in (by_query, decoded_path, encoded_path):
        assert status == 200 and body["key"] == "100%25 done?.txt"
    assert api("/objects/src-bucket", key="nothing")[0] == 404


def test_incidents_by_status_with_their_checks(api: Any, seeded: Ledger) -> None:
    _, open_ones = api("/incidents", status="open")
    (incident,) = open_ones["items"]
    assert incident["status"] == "open" and incident["checks"][0]["check"] == "role-trust"
    _, resolved = api("/incidents", status="resolved")
    assert resolved["items"] == []
    seeded.set_incident_fixed("src-bucket", "dst-bucket", "AssumeRoleNotPermitted", actor="diagnosis")
    _, resolved = api("/incidents", status="resolved")
    assert [i["resolved_by"] for i in resolved["items"]] == ["diagnosis"]
    status, body = api("/incidents", status="closed")
    assert status == 400 and "status" in body["message"]


def test_jobs_counts_and_outcomes(api: Any) -> None:
    status, jobs = api("/jobs")
    assert status == 200
    assert (jobs["total"], jobs["active"], jobs["by_status"], jobs["tasks_succeeded"]) == (
        1,
        0,
        {"Complete": 1},
        1,
    )
    assert [j["job_id"] for j in jobs["jobs"]] == ["j1"]


def test_summary_counts_repair_time_and_threshold_misses(api: Any) -> None:
    status, summary = api(
        "/summary", since=(T0 - timedelta(days=1)).isoformat(), until=(T0 + timedelta(days=1)).isoformat()
    )
    assert status == 200
    assert summary["failures"] == 4
    assert summary["by_state"] == {"FAILED": 3, "REPLICATED": 1}
    assert summary["by_reason"] == {"AssumeRoleNotPermitted": 2, "DstPutObjectNotPermitted": 2}
    assert summary["repaired"] == 1
    assert summary["mean_seconds_to_repair"] == summary["p95_seconds_to_repair"] == 2 * 3600
    assert summary["rtc_threshold_misses"] == 2
    assert summary["rtc_threshold_misses_by_rule"] == [
        {"source_bucket": "src-bucket", "rule_id": "rule-1", "misses": 2}
    ]
    # A period that starts in the future (no until: up to now) is empty, not an error
    status, body = api("/summary", since="2999-01-01T00:00:00Z")
    assert status == 200 and body["failures"] == 0
    # An explicit until before since is a 400
    status, body = api("/summary", since="2999-01-01T00:00:00Z", until="2998-01-01T00:00:00Z")
    assert status == 400 and "since is after until" in body["message"]
    # A period before anything happened: zeros, with every field present
    _, empty = api("/summary", until=(T0 - timedelta(days=2)).isoformat())
    assert (empty["failures"], empty["rtc_threshold_misses"], empty["mean_seconds_to_repair"]) == (0, 0, None)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0


def test_a_page_that_examines_its_budget_ends_early_with_a_cursor_and_loses_nothing(
    seeded: Ledger, clock: FakeClock
) -> None:
    # Given a query that matches one failure of the four, and a budget of one examined record a page
    from replimend.audit.queries import FailureQuery

    queries = AuditQueries(seeded, clock=clock)
    query = FailureQuery(reason="DstPutObjectNotPermitted")
    found, pages, cursor = [], 0, None
    # When it is paged through
    while True:
        page = queries.failures(query, limit=10, cursor=cursor, budget=1)
        found += [(f.source_bucket, f.key) for f in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    # Then pages ended early (at most one record each) and every match came once
    assert found == [("other-src", "b c.txt"), ("src-bucket", "a/two.txt")]
    assert pages >= 4
