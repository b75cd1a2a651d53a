"""Coverage-guided fuzzing of the parsers with atheris, a bounded run per target in `make test`.

atheris.Fuzz() ends its process, and importing the harness instruments replimend's modules, so each
target runs in a subprocess (tests/fuzz/harness.py) from its seed corpus, with a fixed seed so a
finding reproduces; exit status 0 means no finding. Skipped only where atheris does not install (it
has wheels for CPython 3.11-3.13 on linux x86_64).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris installs only on linux x86_64, CPython 3.11-3.13")

from tests.fuzz import BREAK_ENV

ROOT = Path(__file__).resolve().parents[2]

#: Runs per target: a few seconds each on one idle core; MAX_SECONDS bounds each on a loaded machine.
RUNS = {
    "event_document": 80_000,
    "classify_input": 40_000,
    "report_manifest": 200_000,
    "report_rows": 50_000,
    "manifest_lines": 80_000,
    "manifest_round_trip": 100_000,
    "job_event": 300_000,
    "inventory_manifest": 300_000,
    "inventory_rows": 40_000,
}
MAX_SECONDS = 10


def harness(*args: str, break_with: str | None = None) -> subprocess.CompletedProcess[str]:
    """The harness in a process of its own; stdout holds libFuzzer's log and atheris's traceback."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    env.pop(BREAK_ENV, None)
    if break_with:
        env[BREAK_ENV] = break_with
    return subprocess.run(
        [sys.executable, "-m", "tests.fuzz.harness", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # in the order they were written
        text=True,
        timeout=MAX_SECONDS + 60,
        check=False,
    )


def fuzz(
    target: str, tmp_path: Path, runs: int, break_with: str | None = None
) -> subprocess.CompletedProcess[str]:
    corpus, artifacts = tmp_path / "corpus", tmp_path / "artifacts"
    corpus.mkdir(parents=True)  # empty: the harness writes the target's seeds into it
    artifacts.mkdir()
    flags = [f"-runs={runs}", f"-max_total_time={MAX_SECONDS}", "-max_len=8192", "-seed=1", "-timeout=10"]
    return harness(target, str(corpus), *flags, f"-artifact_prefix={artifacts}/", break_with=break_with)


def findings(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "artifacts").glob("crash-*"))


def test_every_target_has_a_bounded_run() -> None:
    listed = harness("--list")
    assert listed.returncode == 0, listed.stdout[-3000:]
    # the names come last, after atheris's "INFO: Instrumenting ..." lines
    assert sorted(listed.stdout.split()[-len(RUNS) :]) == sorted(RUNS)
    assert listed.stdout.split()[-len(RUNS) - 1].startswith("replimend")


@pytest.mark.parametrize("target", sorted(RUNS))
def test_atheris_finds_nothing_in_the_parsers(target: str, tmp_path: Path) -> None:
    result = fuzz(target, tmp_path, RUNS[target])

    assert result.returncode == 0, f"atheris found an input {findings(tmp_path)}:\n{result.stdout[-3000:]}"
    assert "Done " in result.stdout and not findings(tmp_path)
    assert any((tmp_path / "corpus").iterdir())  # it ran from the seeds


def test_a_parser_raising_a_non_project_exception_fails_the_run_with_its_input(tmp_path: Path) -> None:
    # Given the report manifest parser broken to raise KeyError once it has parsed
    # When atheris runs it
    result = fuzz("report_manifest", tmp_path, 1000, break_with="KeyError")

    # Then it reports the exception, keeps the input and exits non-zero
    assert result.returncode != 0
    assert "Uncaught Python exception" in result.stdout and "broken on purpose" in result.stdout
    assert len(findings(tmp_path)) == 1


def test_the_project_error_is_a_finding_only_where_the_parser_must_not_raise(tmp_path: Path) -> None:
    # MalformedEventError is the report manifest parser's documented answer to a bad document...
    allowed = fuzz("report_manifest", tmp_path / "allowed", 1000, break_with="MalformedEventError")
    assert allowed.returncode == 0, allowed.stdout[-3000:]

    # ...but parse_document never raises: bad input comes back as UnparseableRecord items
    refused = fuzz("event_document", tmp_path / "refused", 1000, break_with="MalformedEventError")
    assert refused.returncode != 0
    assert "MalformedEventError: broken on purpose" in refused.stdout
