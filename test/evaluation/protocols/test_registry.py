"""The protocol registry: declaration, look-up, missing inputs and the printed tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpe_ros.evaluation import protocols as registry
from hpe_ros.evaluation.protocols import (
    EvalInputs,
    MissingInputError,
    ProtocolResult,
    Published,
    Row,
    Table,
    declare_input,
    format_result,
    get_protocol,
    load_protocols,
    register_protocol,
)


@pytest.fixture
def toy_protocol():
    spec = declare_input("toy_data", "a toy file")
    published = Published("Toy table", "Paper model", {"A": 1.5, "B": 2.25}, "paper Table 9",
                          checkpoint="toy.pth")

    @register_protocol("toy", paper="Toy et al.", dataset="Toyset", inputs=(spec,), published=(published,))
    def toy(inputs: EvalInputs) -> ProtocolResult:
        """Reads the toy file's size.

        More text that is not the description."""
        size = inputs.path(spec).stat().st_size
        return ProtocolResult((Table("Toy table", ("A", "B"), (Row("measured", {"A": float(size)}),)),),
                              ("a note",))

    yield registry.PROTOCOLS["toy"], spec
    registry.PROTOCOLS.pop("toy")
    registry.INPUTS.pop("toy_data")


def test_a_declared_protocol_is_found_by_name_with_its_description(toy_protocol):
    protocol, spec = toy_protocol
    assert get_protocol("toy") is protocol
    assert protocol.description == "Reads the toy file's size."
    assert spec.option == "--toy-data"
    assert protocol.missing({}) == [spec]
    assert protocol.missing({"toy_data": Path("x")}) == []


def test_the_result_prints_beside_the_published_row_and_names_the_checkpoint(toy_protocol, tmp_path: Path):
    protocol, _ = toy_protocol
    path = tmp_path / "toy.bin"
    path.write_bytes(b"12345")
    text = format_result(protocol, protocol.run(EvalInputs(paths={"toy_data": path})), random_weights=True)
    lines = text.splitlines()
    measured = next(line for line in lines if line.startswith("measured"))
    published = next(line for line in lines if line.startswith("Paper model"))
    assert "5.00" in measured and "random weights" in measured
    assert "1.50" in published and "2.25" in published
    assert "needs the authors' toy.pth" in published and "paper Table 9" in published
    assert "note: a note" in lines


def test_a_protocol_not_run_still_prints_the_published_table(toy_protocol):
    protocol, _ = toy_protocol
    text = format_result(protocol, None, skipped="needs --toy-data")
    assert "not run: needs --toy-data" in text
    assert "Toy table" in text and "1.50" in text


def test_a_missing_input_names_its_option(toy_protocol):
    protocol, _ = toy_protocol
    with pytest.raises(MissingInputError, match="--toy-data"):
        protocol.run(EvalInputs())


def test_one_name_cannot_be_declared_with_two_meanings(toy_protocol):
    assert declare_input("toy_data", "a toy file") is registry.INPUTS["toy_data"]
    with pytest.raises(ValueError, match="already declared"):
        declare_input("toy_data", "something else")


def test_a_second_function_under_a_taken_name_is_refused(toy_protocol):
    with pytest.raises(ValueError, match="already registered"):
        register_protocol("toy", paper="", dataset="")(lambda inputs: ProtocolResult(()))


@pytest.fixture
def toy_paper():
    """A protocol declaring the paper's table layout, one published row and a note on the rest."""
    spec = declare_input("toy_paper_data", "a toy file")
    layout = Table("Paper table", ("A", "B", "C"))
    published = Published("Paper table", "Paper model", {"A": 1.5, "C": 12.0}, "paper Table 2",
                          checkpoint="paper.pth")

    @register_protocol("toy_paper", paper="Toy et al.", dataset="Toyset", inputs=(spec,), layouts=(layout,),
                       published=(published,), published_notes=("B: not in the paper's table",))
    def toy_paper(inputs: EvalInputs) -> ProtocolResult:
        """Reads the toy file's size."""
        size = float(inputs.path(spec).stat().st_size)
        row = Row("measured", {"A": size, "B": 0.5})
        return ProtocolResult((Table("Paper table", ("A", "B", "C"), (row,)),))

    yield registry.PROTOCOLS["toy_paper"]
    registry.PROTOCOLS.pop("toy_paper")
    registry.INPUTS.pop("toy_paper_data")


def test_a_protocol_not_run_prints_the_paper_layout_with_the_published_row(toy_paper, published_tables):
    text = published_tables(toy_paper, None)
    header = text.splitlines()[text.splitlines().index("Paper table") + 1]
    assert header.split() == ["A", "B", "C"]  # B has no published value and is still a column
    assert "published: B: not in the paper's table" in text


def test_a_run_prints_its_rows_in_the_layout_beside_the_published_one(toy_paper, published_tables, tmp_path):
    path = tmp_path / "toy.bin"
    path.write_bytes(b"123")
    text = published_tables(toy_paper, toy_paper.run(EvalInputs(paths={"toy_paper_data": path})))
    measured = next(line for line in text.splitlines() if line.startswith("measured"))
    assert measured.split()[1:3] == ["3.00", "0.50"]


@pytest.mark.parametrize(("table", "values", "message"), [
    ("Other table", {"A": 1.0}, "not one of its layouts"),
    ("Paper table", {"A": 1.0, "D": 2.0}, r"columns \['D'\]"),
])
def test_a_published_row_outside_the_layout_is_refused(table, values, message):
    with pytest.raises(ValueError, match=message):
        register_protocol("toy_bad", paper="", dataset="", layouts=(Table("Paper table", ("A", "B")),),
                          published=(Published(table, "Model", values, "paper"),))
    assert "toy_bad" not in registry.PROTOCOLS


@pytest.mark.parametrize("name", sorted(load_protocols()))
def test_every_packaged_protocol_prints_its_paper_tables_without_its_inputs(name, published_tables):
    protocol = get_protocol(name)
    published_tables(protocol, None)
    # each paper says what it published or why the registry has none of it
    assert protocol.published or protocol.published_notes
    assert all(entry.source for entry in protocol.published)


def test_the_packaged_protocols_are_registered():
    names = load_protocols()
    assert {"capf_h36m", "capf_mpi_inf_3dhp"} <= set(names)
    with pytest.raises(ValueError, match="unknown protocol"):
        get_protocol("no_such_protocol")
