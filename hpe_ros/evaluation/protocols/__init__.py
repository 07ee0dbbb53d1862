"""The papers' evaluation protocols, selectable by name (``hpe-ros eval NAME``).

A protocol runs one paper's official test procedure (its crops, flip test, decoding, metric) on
files the user has, and returns its numbers in the paper's table layout. The registry keeps, per
protocol, the published numbers to print beside the measured ones and what reproducing them
needs (the authors' checkpoint, the data set).

Registering a protocol is one declaration in a module of this package::

    H36M_3D = declare_input("h36m_3d", "data_3d_h36m.npz (the community 3D file)")

    @register_protocol(
        "capf_h36m",
        paper="Context-Aware PoseFormer (Zhao et al., NeurIPS 2023)",
        dataset="Human3.6M",
        inputs=(H36M_3D,),  # required; optional ones are read with inputs.get(...)
        layouts=(Table("Human3.6M (mm)", ("MPJPE", "P-MPJPE")),),  # the paper's table(s) it fills
        published=(Published("Human3.6M (mm)", "CA-PF HRNet-32", {"MPJPE": 41.3},
                             "official README", checkpoint="best_epoch.bin"),),
        published_notes=("P-MPJPE: not published in the README",),
    )
    def capf_h36m(inputs: EvalInputs) -> ProtocolResult: ...

and the module's name in :data:`PROTOCOL_MODULES` (imported by :func:`load_protocols`).

* :func:`declare_input` names a file or folder a protocol reads; ``hpe-ros eval`` offers every
  declared input as an option (``h36m_3d`` -> ``--h36m-3d PATH``). Declaring one name twice with
  the same help is allowed (protocols share inputs).
* A protocol function takes :class:`EvalInputs` and returns :class:`ProtocolResult`: tables of
  :class:`Row` s whose titles and column names match those of its :class:`Published` entries.
* ``layouts`` are the paper's tables (title and every column) the protocol fills: printed even
  when it does not run, and each :class:`Published` row must name one of them and only its
  columns (checked at registration). ``published_notes`` say which of the paper's numbers are
  not among the published rows, and why; they are printed with the tables.
* Settings other than files come as strings in ``EvalInputs.options`` (``--set NAME=VALUE``),
  e.g. ``capf_backbone=hrnet_48``; a protocol documents the ones it reads in its docstring.
* Protocol modules are imported to build the command line: keep torch and other heavy imports
  inside the functions.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: modules of this package that register protocols (imported by :func:`load_protocols`)
PROTOCOL_MODULES: tuple[str, ...] = ("capf", "coco_topdown", "coco_bottom_up", "hemlets", "eventhpe")


class MissingInputError(LookupError):
    """A protocol needs a file the user did not give; the message names the option."""


@dataclass(frozen=True)
class InputSpec:
    """A file or folder protocols read, offered as ``--<name>`` by ``hpe-ros eval``."""

    name: str
    help: str

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class EvalInputs:
    """What a protocol runs on: the given inputs by name and the run's settings."""

    paths: Mapping[str, Path] = field(default_factory=dict)
    device: str = "cpu"
    limit: int | None = None  # at most this many samples (a quick check); None: all
    allow_random_weights: bool = False  # run without the authors' checkpoint (protocol checks only)
    batch_size: int = 64
    options: Mapping[str, str] = field(default_factory=dict)  # protocol settings (``--set NAME=VALUE``)

    def get(self, spec: InputSpec | str) -> Path | None:
        return self.paths.get(spec.name if isinstance(spec, InputSpec) else spec)

    def path(self, spec: InputSpec | str) -> Path:
        """The given path of ``spec``; :class:`MissingInputError` naming the option when absent."""
        found = self.get(spec)
        if found is None:
            named = spec if isinstance(spec, InputSpec) else INPUTS.get(spec, InputSpec(spec, ""))
            raise MissingInputError(f"needs {named.option} ({named.help})")
        return found


@dataclass(frozen=True)
class Row:
    """One line of a result table: a label and a value per column (missing columns print blank)."""

    label: str
    values: Mapping[str, float]
    note: str = ""  # e.g. "random weights"


@dataclass(frozen=True)
class Table:
    """A table in the paper's layout: its columns in order and the measured rows."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...] = ()


@dataclass(frozen=True)
class ProtocolResult:
    """What a protocol measured, and remarks (samples used, weights, deviations from the paper's data)."""

    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Published:
    """A row of the paper's (or the official README's) table."""

    table: str  # the Table.title it belongs to
    label: str
    values: Mapping[str, float]
    source: str  # "paper Table 2", "official README"
    checkpoint: str = ""  # the authors' file it needs; "" if it needs none


ProtocolFunction = Callable[[EvalInputs], ProtocolResult]


@dataclass(frozen=True)
class Protocol:
    name: str
    paper: str
    dataset: str
    run: ProtocolFunction
    inputs: tuple[InputSpec, ...] = ()
    published: tuple[Published, ...] = ()
    description: str = ""
    layouts: tuple[Table, ...] = ()  # the paper's tables it fills: title and every column
    published_notes: tuple[str, ...] = ()  # which published numbers are not printed, and why

    def missing(self, given: Mapping[str, Path]) -> list[InputSpec]:
        """The required inputs not in ``given``."""
        return [spec for spec in self.inputs if spec.name not in given]


INPUTS: dict[str, InputSpec] = {}
PROTOCOLS: dict[str, Protocol] = {}


def declare_input(name: str, help: str) -> InputSpec:  # noqa: A002 - argparse's word
    """Declare (or look up) an input named ``name``; one name has one help text."""
    spec = InputSpec(name, help)
    known = INPUTS.setdefault(name, spec)
    if known.help != help and help:
        raise ValueError(f"input {name!r} is already declared as {known.help!r}")
    return known


def register_protocol(
    name: str,
    *,
    paper: str,
    dataset: str,
    inputs: Sequence[InputSpec] = (),
    published: Sequence[Published] = (),
    layouts: Sequence[Table] = (),
    published_notes: Sequence[str] = (),
) -> Callable[[ProtocolFunction], ProtocolFunction]:
    """Decorator: register the function as protocol ``name`` (its docstring is the description)."""
    if layouts:
        check_published(name, layouts, published)

    def decorate(function: ProtocolFunction) -> ProtocolFunction:
        if name in PROTOCOLS and PROTOCOLS[name].run is not function:
            raise ValueError(f"protocol {name!r} is already registered")
        description = (function.__doc__ or "").strip().split("\n\n")[0]
        PROTOCOLS[name] = Protocol(name, paper, dataset, function, tuple(inputs), tuple(published),
                                   " ".join(description.split()), tuple(layouts), tuple(published_notes))
        return function

    return decorate


def check_published(name: str, layouts: Sequence[Table], published: Sequence[Published]) -> None:
    """ValueError unless every published row names a layout's title and only that layout's columns."""
    columns = {t.title: t.columns for t in layouts}
    for entry in published:
        if entry.table not in columns:
            raise ValueError(f"protocol {name!r}: published row {entry.label!r} names table "
                             f"{entry.table!r}, not one of its layouts {sorted(columns)}")
        unknown = [c for c in entry.values if c not in columns[entry.table]]
        if unknown:
            raise ValueError(f"protocol {name!r}: published row {entry.label!r} has columns {unknown} "
                             f"that table {entry.table!r} does not have")


def load_protocols() -> dict[str, Protocol]:
    """Import every module of :data:`PROTOCOL_MODULES` and return the registry."""
    for module in PROTOCOL_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return PROTOCOLS


def get_protocol(name: str) -> Protocol:
    protocols = load_protocols()
    if name not in protocols:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(sorted(protocols))}")
    return protocols[name]


def format_table(table: Table, published: Sequence[Published] = (), random_weights: bool = False) -> str:
    """The measured rows, then the published rows of the same table, in aligned columns."""
    columns = list(table.columns)
    labels = [r.label for r in table.rows] + [p.label for p in published]
    width = max([len("measured"), *map(len, labels)]) + 2
    widths = [max(9, len(c) + 2) for c in columns]
    head = f"{'':<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    lines = [table.title, head]

    def cells(values: Mapping[str, float]) -> str:
        return "".join(f"{values[c]:>{w}.2f}" if c in values else " " * w
                       for c, w in zip(columns, widths, strict=True))

    for row in table.rows:
        note = row.note or ("random weights: checks the protocol, not the paper's numbers"
                            if random_weights else "")
        lines.append(f"{row.label:<{width}}{cells(row.values)}" + (f"  ({note})" if note else ""))
    for entry in published:
        needs = f"; needs the authors' {entry.checkpoint}" if entry.checkpoint else ""
        lines.append(f"{entry.label:<{width}}{cells(entry.values)}  (published, {entry.source}{needs})")
    return "\n".join(lines)


def format_result(protocol: Protocol, result: ProtocolResult | None, random_weights: bool = False,
                  skipped: str = "") -> str:
    """The protocol's heading, each table with its published rows, and the notes."""
    lines = [f"== {protocol.name}: {protocol.paper}, {protocol.dataset}"]
    if skipped:
        lines.append(f"   not run: {skipped}")
    measured = {t.title: t for t in result.tables} if result else {}
    layouts = {t.title: t for t in protocol.layouts}
    titles = dict.fromkeys([*measured, *layouts, *(p.table for p in protocol.published)])
    for title in titles:
        published = [p for p in protocol.published if p.table == title]
        table = measured.get(title) or layouts.get(title)
        if table is None:
            columns = tuple(dict.fromkeys(c for p in published for c in p.values))
            table = Table(title, columns)
        lines += ["", format_table(table, published, random_weights)]
    if protocol.published_notes:
        lines += [""] + [f"published: {n}" for n in protocol.published_notes]
    if result:
        lines += [""] + [f"note: {n}" for n in result.notes]
    return "\n".join(lines).rstrip()


def input_paths(values: Mapping[str, str | os.PathLike[str] | None]) -> dict[str, Path]:
    """``{name: path}`` of the inputs that were given (None dropped)."""
    return {name: Path(value) for name, value in values.items() if value is not None}


__all__ = [
    "INPUTS",
    "PROTOCOLS",
    "PROTOCOL_MODULES",
    "EvalInputs",
    "InputSpec",
    "MissingInputError",
    "Protocol",
    "ProtocolResult",
    "Published",
    "Row",
    "Table",
    "check_published",
    "declare_input",
    "format_result",
    "format_table",
    "get_protocol",
    "input_paths",
    "load_protocols",
    "register_protocol",
]
