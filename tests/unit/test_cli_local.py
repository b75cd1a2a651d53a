"""`replimend local`: durations and parameters parse or fail in one line; without the embedded AWS,
one line and exit status 2."""

from __future__ import annotations

import sys

import pytest

from replimend_cli import main
from replimend_cli.local_cmd import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("90s", 90), ("1h30m", 5400), ("2d", 172800)])
def test_durations_read_as_a_person_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "argv", [["local", "clock", "advance", "15"], ["local", "up", "--parameter", "NoEquals"]]
)
def test_bad_arguments_are_one_line_and_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("replimend: error:")


def test_local_up_without_the_embedded_aws_says_so_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an operator's install: replimend and replimend_cli, no replimend_local
    monkeypatch.setitem(sys.modules, "replimend_local", None)
    for name in [m for m in sys.modules if m.startswith("replimend_local.")]:
        monkeypatch.delitem(sys.modules, name)
    # When they start local mode
    status = main(["local", "up", "--port", "0"])
    # Then one line on stderr, no traceback, exit status 2
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("replimend: error: local mode needs the embedded AWS")


def test_the_server_log_shows_a_failed_invocation_with_its_log_lines() -> None:
    from datetime import UTC, datetime

    from replimend_local.sam import Invocation
    from replimend_local.serve import invocation_line

    at = datetime(2030, 1, 1, tzinfo=UTC)
    failed = Invocation(
        "IngestFunction", "sqs:q", "r1", at, 2.0, False, "1 message", "Boom", '{"level":"ERROR"}\n'
    )
    ok = Invocation("IngestFunction", "sqs:q", "r2", at, 2.0, True, "1 message", None, '{"level":"INFO"}\n')
    assert invocation_line(failed).splitlines() == [
        "2030-01-01 00:00:00 IngestFunction <- sqs:q (1 message): ERROR Boom",
        '{"level":"ERROR"}',
    ]
    assert invocation_line(ok) == "2030-01-01 00:00:00 IngestFunction <- sqs:q (1 message): ok"
