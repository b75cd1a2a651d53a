"""The audit report: built from a moto ledger, rendered to one HTML file, drawn by headless Chromium."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from replimend.ledger import Ledger
from replimend.models import MISSED_THRESHOLD, Action, ObjectRef, ObjectState
from replimend_cli import main
from replimend_cli.report import build_report, render_html
from tests import chromium
from tests.integration.ledger_helpers import RETRY, RETRY_AFTER_FIX, T0, FakeClock, classified, failure_event

HOSTILE_KEY = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
GAVE_UP_KEY = HOSTILE_KEY + " & <b>given up</b>.txt"  # shown in the report: keys are hostile input


@pytest.fixture
def seeded(ledger_table: Any, ledger_table_name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Ledger, Any]:
    """Two reasons failing over three hours, a repair, an object given up, an RTC miss, a diagnosed incident."""
    monkeypatch.setenv("LEDGER_TABLE", ledger_table_name)
    monkeypatch.setenv("LEDGER_INDEX_SHARDS", "2")
    clock = FakeClock()
    ledger = Ledger(ledger_table, index_shards=2, clock=clock)
    for hour in range(3):
        at = T0 + timedelta(hours=hour)
        ledger.record_event(failure_event(key=f"held/{hour}.txt", at=at), RETRY_AFTER_FIX)
        ledger.record_event(
            failure_event(key=f"retry/{hour}.txt", at=at, reason="DstPutObjectNotPermitted"), RETRY
        )
    ledger.record_event(failure_event(key=HOSTILE_KEY, at=T0), RETRY)
    # a repair 40 minutes after the failure
    record = ledger.get_failure(ObjectRef("src-bucket", "retry/0.txt", "v1", "dst-bucket"))
    assert record is not None
    clock.advance(minutes=30)
    record = ledger.transition(record, ObjectState.IN_JOB, reason="job", actor="remediate", job_id="job-1")
    clock.advance(minutes=10)
    ledger.transition(record, ObjectState.REPLICATED, reason="report: succeeded", actor="track_jobs")
    # an object given up
    ledger.record_event(failure_event(key=GAVE_UP_KEY, at=T0), RETRY)
    record = ledger.get_failure(ObjectRef("src-bucket", GAVE_UP_KEY, "v1", "dst-bucket"))
    assert record is not None
    ledger.transition(record, ObjectState.GAVE_UP, reason="max attempts", actor="track_jobs", attempts=5)
    # an RTC threshold miss
    miss = failure_event(key="slow.bin", at=T0 + timedelta(hours=1), event_type=MISSED_THRESHOLD, reason=None)  # type: ignore[arg-type]
    ledger.record_event(miss, classified(Action.OBSERVE, None))
    # a diagnosis of the open incident, with a hostile evidence string
    ledger.record_diagnosis(
        "src-bucket",
        "dst-bucket",
        "AssumeRoleNotPermitted",
        "1 check fails",
        [
            {
                "name": "role-trust",
                "status": "FAIL",
                "evidence": "<i>not trusted</i>",
                "fix": "aws iam update-assume-role-policy --role-name r",
            },
            {"name": "versioning", "status": "PASS", "evidence": "Enabled", "fix": None},
        ],
    )
    return ledger, clock


def test_the_report_shows_every_section_from_the_ledger(seeded: tuple[Ledger, Any]) -> None:
    ledger, clock = seeded
    # When the report of the period is built and rendered
    report = build_report(
        ledger, since=T0 - timedelta(hours=1), until=clock.now + timedelta(hours=4), now=clock.now
    )
    html = render_html(report)
    # Then the figures are those of the ledger
    assert report.failures == 8 and report.objects_failed == 8
    # (the failure happened at T0; the clock starts a minute later and the repair lands 40 minutes on)
    assert report.repaired == 1 and [t.total_seconds() for t in report.repair_times] == [41 * 60.0]
    assert report.reasons == ["DstPutObjectNotPermitted", "AssumeRoleNotPermitted"]  # most failures first
    assert [r.ref.key for r in report.gave_up] == [GAVE_UP_KEY]
    assert [(m.missed, m.replicated_after) for m in report.rtc_misses] == [(1, 0)]
    assert [i.failure_reason for i in report.open_incidents] == ["AssumeRoleNotPermitted"]
    # And the chart has one series per reason, with bars
    page = chromium.Elements(html)
    assert {"AssumeRoleNotPermitted", "DstPutObjectNotPermitted", "time to repair"} <= page.series()
    assert len(page.tags("rect")) >= 4
    # And nothing from the ledger became markup: no script, no img, no <i> or <b> from the data
    assert not [tag for tag, _ in page.elements if tag in ("script", "img", "i", "b")]
    assert "&lt;script&gt;" in html and "&lt;i&gt;not trusted&lt;/i&gt;" in html
    assert "aws iam update-assume-role-policy --role-name r" in html
    # And it loads nothing: no remote URL anywhere
    assert not [name for _, attrs in page.elements for name in attrs if name in ("src", "href", "srcset")]
    assert "url(" not in html and "@import" not in html


def test_replimend_report_writes_the_file_and_rejects_bad_input_in_one_line(
    seeded: tuple[Ledger, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.html"
    # When the command writes the report of a day
    assert main(["report", "--html", str(target), "--since", "2024-09-05", "--until", "2024-09-05"]) == 0
    # Then the file is there, and stderr says where
    assert "AssumeRoleNotPermitted" in target.read_text(encoding="utf-8")
    assert str(target) in capsys.readouterr().err
    # When the period is backwards, or the directory does not exist: one line, exit 2, no file
    for argv in (
        ["report", "--html", str(tmp_path / "x.html"), "--since", "2024-09-06", "--until", "2024-09-05"],
        ["report", "--html", str(tmp_path / "missing" / "x.html")],
        ["report", "--html", str(tmp_path / "x.html"), "--since", "yesterday"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert error[-1].startswith("replimend") and "Traceback" not in "\n".join(error)
    assert not (tmp_path / "x.html").exists()
    # When the table does not exist: one line naming it, exit 1, no file
    assert main(["report", "--html", str(tmp_path / "x.html"), "--table", "no-such-table"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no-such-table" in error
    assert not (tmp_path / "x.html").exists()


def test_chromium_draws_the_charts_and_runs_no_script(seeded: tuple[Ledger, Any], tmp_path: Path) -> None:
    ledger, clock = seeded
    page = tmp_path / "report.html"
    report = build_report(
        ledger, since=T0 - timedelta(hours=1), until=clock.now + timedelta(hours=4), now=clock.now
    )
    page.write_text(render_html(report), encoding="utf-8")
    # When headless Chromium loads the page
    loaded = chromium.load(page, tmp_path / "profile")
    # Then the SVG charts are in its DOM with each reason's series and their bars
    dom = chromium.Elements(loaded.dom)
    assert len(dom.tags("svg")) == 2
    assert {"AssumeRoleNotPermitted", "DstPutObjectNotPermitted", "time to repair"} <= dom.series()
    assert len(dom.tags("rect")) >= 4
    # And no script ran (the hostile key did not retitle the page) and the console logged nothing
    assert loaded.title.startswith("replimend audit report") and "pwned" not in loaded.title
    assert loaded.console == []


def test_an_empty_period_says_so_instead_of_drawing_empty_charts(ledger_table: Any) -> None:
    report = build_report(
        Ledger(ledger_table, index_shards=2), since=T0, until=T0 + timedelta(days=1), now=T0
    )
    html = render_html(report)
    assert report.failures == 0 and report.repair_p95 is None
    assert "No failure was recorded in the period." in html and "No object was repaired" in html
    assert chromium.Elements(html).tags("svg") == []
