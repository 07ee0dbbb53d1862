"""A check shared by the protocol tests: the printed tables in the paper's layout, published rows aligned."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from hpe_ros.evaluation.protocols import Protocol, ProtocolResult, format_result

_CELL = re.compile(r"\S+(?: \S+)*")  # a header cell: columns are 2+ spaces apart, a name has single ones


def _cells(header: str) -> dict[str, tuple[int, int]]:
    return {m.group(): m.span() for m in _CELL.finditer(header)}


def check_published_tables(protocol: Protocol, result: ProtocolResult | None,
                           random_weights: bool = True) -> str:
    """Print ``result`` (None: not run) and check what ``hpe-ros eval`` shows of the paper's tables.

    Measured tables that are one of the paper's layouts use only its columns; every layout is printed
    with its columns in order; each published row sits in its table with every value under its
    column (right-aligned) and the other cells blank, and names its source and the checkpoint it
    needs; the notes on what is not published are printed. Returns the text."""
    layouts = {t.title: t for t in protocol.layouts}
    assert layouts, f"{protocol.name} declares no layout of the paper's tables"
    for table in result.tables if result else ():
        if table.title in layouts:
            assert set(table.columns) <= set(layouts[table.title].columns), table.title
    text = format_result(protocol, result, random_weights=random_weights,
                         skipped="" if result else "needs its inputs")
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in text.split("\n\n")}
    for title, layout in layouts.items():
        assert title in blocks, f"{protocol.name}: table {title!r} is not printed"
        measured = next((t for t in result.tables if t.title == title), None) if result else None
        assert tuple(_cells(blocks[title][0])) == (measured or layout).columns
    for entry in protocol.published:
        header, *rows = blocks[entry.table]
        spans = _cells(header)
        line = next(r for r in rows if r.startswith(entry.label + "  ") and "(published, " in r)
        assert f"(published, {entry.source}" in line
        if entry.checkpoint:
            assert f"needs the authors' {entry.checkpoint})" in line
        begin = len(entry.label)
        for column, (_, end) in spans.items():  # a cell: from the previous column's end to its own
            cell, begin = line[begin:end], end
            if column in entry.values:
                value = f"{entry.values[column]:.2f}"
                assert cell.strip() == value and cell.endswith(value), f"{entry.label}: {column}"
            else:
                assert not cell.strip(), f"{entry.label}: {column} should be blank"
    for note in protocol.published_notes:
        assert f"published: {note}" in text.splitlines()
    return text


@pytest.fixture
def published_tables() -> Callable[..., str]:
    """:func:`check_published_tables`, for the protocol tests."""
    return check_published_tables
