"""The audit report page: one HTML file with its CSS and SVG inline, nothing to fetch.

Everything that comes from the ledger (keys, bucket names, reasons, evidence, fix commands) is
escaped: object keys are whatever an uploader chose, so they are hostile input. The page carries
a Content-Security-Policy that allows no script and no remote resource at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape

from replimend.models import FailureRecord, Incident
from replimend_cli.report import charts
from replimend_cli.report.data import Report, RtcMiss

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:960px;
padding:24px;color:#1b1f24}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;
padding-bottom:4px}.muted{color:#57606a}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:16px 0}
.figure{border:1px solid #d0d7de;border-radius:6px;padding:10px}.figure strong{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid #eaeef2;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#f6f8fa}td:first-child{min-width:16em}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 3px;
overflow-wrap:anywhere}
.FAIL{color:#cf222e;font-weight:600}.PASS{color:#1a7f37}.WARN{color:#9a6700}
svg.chart{width:100%;height:auto}svg.chart text{font-size:11px;fill:#57606a}
svg.chart line.grid{stroke:#eaeef2}ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:12px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_html(report: Report) -> str:
    title = f"replimend audit report: {_day(report.since)} to {_day(report.until)}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">Ledger table <code>{escape(report.table)}</code>; source buckets '
        f"{_join(report.sources) or 'none'}. Generated {escape(_time(report.generated_at))}. "
        "Times are UTC.</p>",
        _figures(report),
        "<h2>Failures over time, by reason</h2>",
        _failures_chart(report),
        "<h2>Time to repair</h2>",
        _repair_section(report),
        "<h2>Objects by state at the end of the period</h2>",
        _states(report),
        f"<h2>Open incidents ({len(report.open_incidents)})</h2>",
        _incidents(report.open_incidents),
        f"<h2>Objects given up ({len(report.gave_up)})</h2>",
        _gave_up(report.gave_up),
        f"<h2>Replication Time Control threshold misses ({sum(m.missed for m in report.rtc_misses)})</h2>",
        _rtc(report.rtc_misses),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _figures(report: Report) -> str:
    figures = [
        ("failures recorded", str(report.failures)),
        ("objects that failed", str(report.objects_failed)),
        ("repaired", str(report.repaired)),
        ("median time to repair", _duration(report.repair_p50)),
        ("p95 time to repair", _duration(report.repair_p95)),
        ("open incidents", str(len(report.open_incidents))),
        ("given up", str(len(report.gave_up))),
        ("jobs started", str(len(report.jobs))),
        ("RTC threshold misses", str(sum(m.missed for m in report.rtc_misses))),
    ]
    cells = "".join(
        f'<div class="figure" data-figure="{escape(name, quote=True)}"><strong>{escape(value)}</strong>'
        f'<span class="muted">{escape(name)}</span></div>'
        for name, value in figures
    )
    return f'<div class="figures">{cells}</div>'


def _failures_chart(report: Report) -> str:
    if not report.reasons:
        return '<p class="muted">No failure was recorded in the period.</p>'
    label = "%m-%d %H:%M" if report.bucket_width < timedelta(days=1) else "%Y-%m-%d"
    width = _duration(report.bucket_width)
    chart = charts.stacked_bars(
        f"Failure events per {width}, by failure reason",
        report.failures_over_time,
        report.reasons,
        label_format=label,
    )
    return f'<figure id="failures-over-time">{chart}{charts.legend(report.reasons)}</figure>'


def _repair_section(report: Report) -> str:
    if not report.repair_times:
        return '<p class="muted">No object was repaired in the period.</p>'
    chart = charts.histogram(
        "Objects repaired, by time from first failure to REPLICATED", report.repair_histogram
    )
    return f'<figure id="time-to-repair">{chart}</figure>'


def _states(report: Report) -> str:
    if not report.states_at_end:
        return '<p class="muted">No object changed state in the period.</p>'
    return _table(["state", "objects"], [[escape(s), _num(n)] for s, n in report.states_at_end.items()])


def _incidents(incidents: Sequence[Incident]) -> str:
    if not incidents:
        return '<p class="muted">None.</p>'
    rows = []
    for incident in incidents:
        failing = [c for c in incident.last_checks if str(c.get("status")) != "PASS"]
        checks = "".join(
            f'<li><span class="{escape(str(c.get("status", "")))}">{escape(str(c.get("status", "")))}</span> '
            f"{escape(str(c.get('name', '')))}: {escape(str(c.get('evidence', '') or ''))}"
            + (f"<br>fix: <code>{escape(str(c['fix']))}</code>" if c.get("fix") else "")
            + "</li>"
            for c in failing
        )
        # the checks say what the summary says, one per line: the summary only when none fails
        diagnosis = escape(incident.last_diagnosis or "not diagnosed yet")
        rows.append(
            [
                _pair(incident.source_bucket, incident.destination_bucket),
                escape(incident.failure_reason),
                _num(incident.object_count),
                escape(_time(incident.opened_at)),
                f"<ul>{checks}</ul>" if checks else diagnosis,
            ]
        )
    return _table(["pair", "reason", "objects", "opened", "failing checks and fixes"], rows)


def _gave_up(records: Sequence[FailureRecord]) -> str:
    if not records:
        return '<p class="muted">None.</p>'
    rows = [
        [
            f"<code>s3://{escape(r.ref.source_bucket)}/{escape(r.ref.key)}</code>",
            f"<code>{escape(r.ref.version_id or 'null')}</code>",
            f"<code>{escape(r.ref.destination_bucket)}</code>",
            escape(r.failure_reason or ""),
            _num(r.attempts),
            escape(_time(r.state_since) if r.state_since else ""),
        ]
        for r in records
    ]
    return _table(["object", "version", "destination", "reason", "attempts", "given up"], rows)


def _rtc(misses: Sequence[RtcMiss]) -> str:
    if not misses:
        return '<p class="muted">None recorded.</p>'
    rows = [
        [
            _pair(m.source_bucket, m.destination_bucket),
            _num(m.missed),
            _num(m.replicated_after),
            escape(_time(m.last_at)),
        ]
        for m in misses
    ]
    return _table(["pair", "missed threshold", "replicated after threshold", "last"], rows)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pair(source: str, destination: str) -> str:
    return f"<code>{escape(source)}</code><br>→ <code>{escape(destination)}</code>"


def _num(value: int) -> str:
    return str(value)


def _join(names: Sequence[str]) -> str:
    return ", ".join(f"<code>{escape(n)}</code>" for n in names)


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    seconds = int(value.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} d".replace(".0 d", " d")
