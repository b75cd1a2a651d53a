"""`replimend backfill` and `replimend pending`: one-line errors with the documented exit status,
and the pending list read from an inventory in moto."""

from __future__ import annotations

import json

import pytest

from replimend_cli import main
from replimend_local.moto_patches import list_inventory_optional_fields
from tests.integration.backfill.conftest import SOURCE, World


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backfill", "--bucket", "b", "--statuses", "PENDING"], "unknown replication status PENDING"),
        (["backfill", "--bucket", "b", "--statuses", ","], "no replication status given"),
        (["backfill", "--bucket", "b", "--since", "last week"], "is not a date"),
        (["backfill", "--bucket", " "], "--bucket needs a bucket name"),
        (["backfill"], "the following arguments are required: --bucket"),
        (["pending", "--bucket", "b", "--threshold-hours", "0"], "must be above 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err and out == ""


def test_backfill_without_the_functions_settings_says_which_are_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LEDGER_TABLE", "ACCOUNT_ID", "MANIFEST_BUCKET", "REPORT_BUCKET", "BATCH_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    status, _, err = run(capsys, "backfill", "--bucket", "b", "--dry-run")
    assert status == 2 and "ACCOUNT_ID" in err and len(err.strip().splitlines()) == 1


def test_pending_lists_stuck_objects_and_exits_1(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.write_inventory(
        ['"src","old%2Bfile.txt","v1","true","false","5","2024-01-01T00:00:00.000Z","PENDING"']
    )
    # moto 5.2.5 renders every OptionalFields entry of ListBucketInventoryConfigurations as "Field"
    # unless replimend_local's patch is applied (as the embedded AWS applies it)
    list_inventory_optional_fields()
    [configuration] = world.reader.buckets[SOURCE]["inventories"]
    world.s3.put_bucket_inventory_configuration(
        Bucket=SOURCE, Id=configuration["Id"], InventoryConfiguration=configuration
    )
    status, out, err = run(capsys, "pending", "--bucket", SOURCE, "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    # stdout: one row per stuck object; the summary is a note on stderr
    assert status == 1 and len(lines) == 1
    assert lines[0]["key"] == "old+file.txt" and lines[0]["version_id"] == "v1"
    assert '"stuck_count": 1' in err


def test_pending_without_an_inventory_says_so_and_exits_0(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "pending", "--bucket", SOURCE)
    assert status == 0 and out == f"{SOURCE}: no inventory configuration\n"
