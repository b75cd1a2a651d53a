"""The demo's tables in an 80-column terminal: identifiers wrap whole, never cut with '…'."""

from __future__ import annotations

import io

from rich.console import Console

from replimend_local.demo.rendering import table, tally
from replimend_local.demo.scenarios import SCENARIOS, ScenarioNames

JOB_ID = "4b3cab65-aee4-4528-aade-0e1b8368735a"


def rendered(renderable: object, width: int = 80) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue().splitlines()


def test_bucket_names_and_reasons_stay_whole_beside_text_that_wraps() -> None:
    # Given the demo's widest rows: every scenario's buckets beside a long description
    route = "source (us-east-1) → destination (us-west-2)"
    grid = table("scenario", route, "what is wrong", whole=("scenario", route))
    names = [ScenarioNames(s.slug, "123456789012") for s in SCENARIOS]
    for scenario, name in zip(SCENARIOS, names, strict=True):
        grid.add_row(scenario.slug, f"{name.source_bucket} →\n{name.destination_bucket}", scenario.title * 2)
    # When it is printed 80 columns wide
    lines = rendered(grid)
    # Then nothing is cut, no line overflows, and every bucket name is on one line
    assert not any("…" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    for name in names:
        assert name.source_bucket in text and name.destination_bucket in text


def test_job_ids_stay_whole_in_80_columns() -> None:
    grid = table(
        "job (S3 Batch Replication)", "scenario", "outcome", whole=("job (S3 Batch Replication)", "scenario")
    )
    grid.add_row(JOB_ID, "no-destination", "Complete: 3 objects, 3 succeeded, 0 failed")
    lines = rendered(grid)
    assert any(JOB_ID in line for line in lines)
    assert not any("…" in line for line in lines) and max(len(line) for line in lines) <= 80


def test_a_column_not_kept_whole_folds_a_long_word_instead_of_cutting_it() -> None:
    grid = table("text")
    grid.add_row("y" * 120)
    lines = rendered(grid)
    assert not any("…" in line for line in lines)
    assert sum(line.count("y") for line in lines) == 120


def test_tally_counts_most_first() -> None:
    assert tally(["FAILED", "REPLICATED", "REPLICATED"]) == "2 REPLICATED, 1 FAILED"
    assert tally([]) == ""
