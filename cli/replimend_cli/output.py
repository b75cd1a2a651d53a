"""How every command prints: ``--output table|json|csv`` (``--json`` is ``--output json``).

Data goes to stdout and nothing else does: logs and notes go to stderr, so ``... --output json | jq``
always parses. JSON is JSON Lines (one object per row, streamed); CSV has a header from the first
row's fields, nested values as JSON; a table never cuts a value — on a terminal long cells wrap
(fold) within the width, in a pipe or a file lines grow as long as the widest row. An empty result
prints nothing on stdout and says so on stderr.

A command adopts it with ``add_output_arguments(parser)`` and ``emit(rows, args.output, ...)``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

TABLE, JSON, CSV = "table", "json", "csv"
FORMATS = (TABLE, JSON, CSV)
#: Wide enough for any row: in a pipe a table line is as long as its widest row, never cut.
UNBOUNDED_WIDTH = 1_000_000

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """A table column: its header and the row field it shows (or a function of the row)."""

    header: str
    value: str | Callable[[Row], Any]

    def cell(self, row: Row) -> str:
        value = self.value(row) if callable(self.value) else row.get(self.value)
        return "" if value is None else str(value)


def add_output_arguments(parser: argparse.ArgumentParser, *, default: str = TABLE) -> None:
    """``--output FORMAT`` and its compatibility alias ``--json``; the choice is ``args.output``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--output",
        choices=FORMATS,
        default=default,
        help=f"table (default: {default}), json (JSON Lines) or csv",
    )
    group.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const=JSON,
        default=argparse.SUPPRESS,
        help="the same as --output json",
    )


def emit(
    rows: Iterable[Row],
    output: str,
    *,
    columns: Sequence[Column],
    title: str = "",
    empty: str = "nothing found",
    fields: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Print ``rows`` in ``output`` format; return how many were printed (0: ``empty`` went to stderr).

    ``fields``: the CSV columns when rows differ in their keys (default: the first row's keys).
    """
    stream = out or sys.stdout
    if output == JSON:
        count = _json_lines(rows, stream)
    elif output == CSV:
        count = _csv(rows, stream, fields)
    else:
        count = _table(rows, columns, title, stream)
    if count == 0:
        note(empty)
    return count


def emit_one(document: Row, output: str, *, text: str, out: TextIO | None = None) -> None:
    """One result: ``text`` as the table form, the document itself as JSON or CSV."""
    if output == TABLE:
        (out or sys.stdout).write(text.rstrip("\n") + "\n")
    else:
        emit([document], output, columns=(), out=out)


def note(message: str) -> None:
    """A line for the person at the terminal, never part of the data: stderr."""
    sys.stderr.write(message.rstrip("\n") + "\n")


def print_table(table: Any, out: TextIO | None = None) -> None:
    """A rich Table (or other renderable) on stdout, never cut: see the module docstring."""
    stream = out or sys.stdout
    from rich.console import Console

    # A terminal wraps long cells within its width; anything else gets lines as long as the rows.
    width = None if stream.isatty() else UNBOUNDED_WIDTH
    Console(file=stream, width=width, soft_wrap=False).print(table)


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not the object it was when a handler was
    pointed here (a caller that swaps and closes sys.stderr, as a test harness does, leaves no
    handler writing to a closed file)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR = _CurrentStderr()


def logs_to_stderr() -> None:
    """Point every logging handler that writes to stdout at stderr (Powertools' Logger defaults to
    stdout, which is right in Lambda and wrong for a command whose stdout is data)."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
                handler.setStream(_STDERR)


def _json_lines(rows: Iterable[Row], stream: TextIO) -> int:
    count = 0
    for row in rows:
        stream.write(json.dumps(row, default=str) + "\n")
        count += 1
    return count


def _csv(rows: Iterable[Row], stream: TextIO, fields: Sequence[str] | None) -> int:
    writer: csv.DictWriter[str] | None = None
    count = 0
    for row in rows:
        if writer is None:
            names = list(fields or row)
            writer = csv.DictWriter(stream, fieldnames=names, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
        writer.writerow({name: _csv_cell(value) for name, value in row.items()})
        count += 1
    return count


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return value


def _table(rows: Iterable[Row], columns: Sequence[Column], title: str, stream: TextIO) -> int:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title else None, title_justify="left")
    for column in columns:
        # fold, never ellipsis: an identifier wraps inside its cell rather than losing characters
        table.add_column(column.header, overflow="fold")
    count = 0
    for row in rows:
        # Text, not str: a key like "a[b]" is data, not rich markup
        table.add_row(*(Text(column.cell(row)) for column in columns))
        count += 1
    if count:
        print_table(table, stream)
    return count
