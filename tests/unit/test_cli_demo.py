"""`replimend demo` needs the embedded AWS (the replimend-local distribution); without it, one line."""

from __future__ import annotations

import sys

import pytest

from replimend_cli import main


def test_the_demo_without_the_embedded_aws_says_so_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an operator's install: replimend and replimend_cli, no replimend_local
    monkeypatch.setitem(sys.modules, "replimend_local", None)
    monkeypatch.delitem(sys.modules, "replimend_local.demo", raising=False)

    # When they run the demo
    status = main(["demo"])

    # Then one line on stderr, no traceback, exit status 2
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("replimend: error: the demo needs the embedded AWS")
    assert "pip install -e ./local" in err
