"""replimend_cli.output: --output table|json|csv, stdout clean, empty results noted, identifiers never cut."""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import re

import pytest

from replimend_cli import build_parser
from replimend_cli.output import (
    CSV,
    JSON,
    TABLE,
    Column,
    add_output_arguments,
    emit,
    logs_to_stderr,
)

LONG_ID = "00000000-1111-2222-3333-444444444444-" + "a" * 60  # longer than an 80-column line
ROWS = [
    {"job_id": LONG_ID, "status": "Complete", "destinations": ["dst-1", "dst-2"], "note": None},
    {"job_id": "short", "status": "Active", "destinations": [], "note": "key [b] not markup"},
]
COLUMNS = (Column("job id", "job_id"), Column("status", "status"), Column("note", "note"))


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_output_arguments(parser)
    return parser.parse_args(list(argv))


def test_output_defaults_to_table_and_json_is_an_alias() -> None:
    assert parse().output == TABLE
    assert parse("--json").output == JSON
    assert parse("--output", "csv").output == CSV


def test_output_and_json_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--output", "csv", "--json")
    assert exited.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_json_is_one_object_per_line() -> None:
    out = io.StringIO()
    assert emit(ROWS, JSON, columns=COLUMNS, out=out) == 2
    assert [json.loads(line) for line in out.getvalue().splitlines()] == ROWS


def test_csv_has_a_header_and_nested_values_as_json() -> None:
    out = io.StringIO()
    emit(ROWS, CSV, columns=COLUMNS, out=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["job_id"] == LONG_ID and json.loads(rows[0]["destinations"]) == ["dst-1", "dst-2"]
    assert rows[0]["note"] == "" and rows[1]["destinations"] == "[]"


def test_csv_fields_cover_rows_of_different_shapes() -> None:
    out = io.StringIO()
    emit([{"a": 1}, {"error": "bad", "source": "line 2"}], CSV, columns=(), fields=("a", "error"), out=out)
    assert out.getvalue().splitlines() == ["a,error", "1,", ",bad"]


def test_a_table_in_a_pipe_keeps_every_identifier_on_one_line() -> None:
    out = io.StringIO()  # not a terminal: a pipe or a file
    emit(ROWS, TABLE, columns=COLUMNS, title="Jobs", out=out)
    text = out.getvalue()
    assert LONG_ID in text and "…" not in text
    assert "key [b] not markup" in text  # data is never read as rich markup


def test_a_table_on_an_80_column_terminal_wraps_identifiers_instead_of_cutting_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "25")
    out = Terminal()
    emit(ROWS, TABLE, columns=COLUMNS, out=out)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # a terminal gets colour codes
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in text
    # the id's characters are all there, folded over several lines of its cell
    first_column = "".join(re.split(r"[│┃|]", line)[1].strip() for line in lines if line.count("│") >= 3)
    assert LONG_ID in first_column


def test_an_empty_result_prints_nothing_and_says_so_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    for output in (TABLE, JSON, CSV):
        assert emit([], output, columns=COLUMNS, empty="no jobs") == 0
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err == "no jobs\n"


def test_logs_go_to_stderr_not_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from aws_lambda_powertools import Logger

    logger = Logger(service="replimend-output-test", stream=sys.stdout)
    logs_to_stderr()
    logger.info("a log line")
    captured = capsys.readouterr()
    assert captured.out == "" and "a log line" in captured.err
    logging.getLogger("replimend-output-test").handlers.clear()


def test_every_command_that_prints_data_takes_output() -> None:
    from replimend_cli import _leaf_parsers

    for command in _leaf_parsers(build_parser()):
        options = {option for action in command._actions for option in action.option_strings}
        if command.prog.split()[1] in ("demo",) or command.prog.endswith(
            ("local up", "api openapi", " report")
        ):
            continue  # a story, a server, and documents (OpenAPI JSON, the HTML report), not rows
        assert {"--output", "--json"} <= options, command.prog
