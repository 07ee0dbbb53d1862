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


def test_the_packaged_protocols_are_registered():
    names = load_protocols()
    assert {"capf_h36m", "capf_mpi_inf_3dhp"} <= set(names)
    with pytest.raises(ValueError, match="unknown protocol"):
        get_protocol("no_such_protocol")
