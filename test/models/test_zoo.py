"""The model zoo table, its docs copy, and checking a folder against a table the test makes itself."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import pytest

from hpe_ros.io.config import load_node_parameters, pipeline_options
from hpe_ros.models.zoo import (
    MISMATCH,
    SIZE_OK,
    UNVERIFIED,
    VERIFIED,
    ZOO,
    ZooEntry,
    check,
    zoo_markdown,
)

ROOT = Path(__file__).resolve().parents[2]


def test_table_is_consistent() -> None:
    assert len({e.key for e in ZOO}) == len(ZOO)
    assert len({e.file_name.lower() for e in ZOO}) == len(ZOO)  # a file name says which entry it is
    for entry in ZOO:
        assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256), entry.key
        assert entry.size_bytes is None or entry.size_bytes > 0
        assert entry.published_at.startswith("https://") or entry.packaged, entry.key
        assert entry.paper and entry.uses


def test_every_parameter_is_an_option_of_its_pipeline() -> None:
    from hpe_ros.pipelines.registry import pipeline_specs

    specs = pipeline_specs()
    for entry in ZOO:
        for name, _ in entry.parameters:
            if "." not in name:  # smpl_model_path / smpl_gender: prefixed with the pipeline when applied
                assert all(name in specs[p].defaults for p in ("blazepose", "topdown", "eventhpe")), name
                continue
            pipeline, option = name.split(".", 1)
            assert option in specs[pipeline].defaults, f"{entry.key}: {name}"


def test_packaged_files_match_the_table(tmp_path) -> None:
    lifter = next(e for e in ZOO if e.key == "default_lifter")
    assert lifter.reference_file() == ROOT / lifter.packaged
    copy = tmp_path / "default_lifter.pt"
    copy.write_bytes((ROOT / lifter.packaged).read_bytes())
    assert [f.status for f in check(tmp_path, [lifter]).found] == [VERIFIED]
    copy.write_bytes(copy.read_bytes()[:-1] + b"?")  # one byte off
    assert "differs from the installed" in check(tmp_path, [lifter]).found[0].problem
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe wheel not installed")
    from hpe_ros.pipelines.rgb.blazepose_models import mediapipe_models_dir

    for entry in (e for e in ZOO if e.role == "blazepose"):
        found = check(mediapipe_models_dir(), [entry]).found
        assert [f.status for f in found] == [VERIFIED], entry.key


def test_docs_hold_the_generated_table() -> None:
    text = (ROOT / "docs" / "models.md").read_text()
    section = text.split("## Model zoo", 1)[1]
    assert zoo_markdown() in section, (
        "docs/models.md 'Model zoo' differs from hpe_ros.models.zoo.zoo_markdown()"
    )


def _entry(
    key: str,
    name: str,
    role: str,
    data: bytes | None = None,
    size: bool = True,
    sha: bool = True,
    parameters: tuple = (),
    width: int | None = None,
) -> ZooEntry:
    return ZooEntry(
        key,
        "paper",
        name,
        "https://example.org",
        role,
        "test",
        parameters,
        size_bytes=len(data) if data is not None and size else None,
        sha256=hashlib.sha256(data).hexdigest() if data is not None and sha else None,
        width=width,
    )


def test_check_verifies_sizes_and_hashes(tmp_path) -> None:
    good, other = b"the real weights", b"the real weightz"
    table = [
        _entry("hashed", "a.pth", "other", good),
        _entry("sized", "B.pth", "other", good, sha=False),
        _entry("unknown", "c.pth", "other"),
        _entry("wrong_hash", "d.pth", "other", good),
        _entry("wrong_size", "e.pth", "other", good + b"!"),
        _entry("absent", "f.pth", "other"),
    ]
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "a.pth").write_bytes(good)
    (tmp_path / "deep" / "b.PTH").write_bytes(good)  # names match whatever their case
    (tmp_path / "deep" / "er" / "c.pth").write_bytes(b"anything")
    (tmp_path / "d.pth").write_bytes(other)  # same size, other bytes
    (tmp_path / "e.pth").write_bytes(good)
    (tmp_path / "unrelated.pth").write_bytes(good)
    report = check(tmp_path, table)
    status = {f.entry.key: f.status for f in report.found}
    assert status == {
        "hashed": VERIFIED,
        "sized": SIZE_OK,
        "unknown": UNVERIFIED,
        "wrong_hash": MISMATCH,
        "wrong_size": MISMATCH,
    }
    problems = {f.entry.key: f.problem for f in report.found}
    assert (
        hashlib.sha256(other).hexdigest() in problems["wrong_hash"] and "expected" in problems["wrong_size"]
    )
    assert [e.key for e in report.missing] == ["absent"] and not report.ok
    assert check(tmp_path, table[:3]).ok


def test_found_files_enable_pipelines_and_write_their_yaml(tmp_path) -> None:
    import yaml

    table = [
        _entry(
            "pose48",
            "p48.pth",
            "pose_2d",
            b"p",
            parameters=(("topdown.pose_model", "hrnet_w48_heatmap"), ("topdown.pose_checkpoint", "{path}")),
            width=48,
        ),
        _entry(
            "capf32",
            "l32.bin",
            "lifter",
            b"l",
            parameters=(("topdown.lifter", "capf_hrnet32"), ("topdown.lifter_checkpoint", "{path}")),
            width=32,
        ),
        _entry("flow", "flow.pkl", "flownet", b"f", parameters=(("eventhpe.flownet_checkpoint", "{path}"),)),
        _entry(
            "shape", "shape.pkl", "shapenet", b"s", parameters=(("eventhpe.shapenet_checkpoint", "{path}"),)
        ),
        _entry(
            "smpl",
            "smpl.pkl",
            "smpl",
            b"m",
            parameters=(("smpl_model_path", "{path}"), ("smpl_gender", "male")),
        ),
    ]
    for entry in table[:4]:
        (tmp_path / entry.file_name).write_bytes(entry.file_name[0].encode())
    report = check(tmp_path, table)
    assert report.ok and "hpe_event_pose" not in report.parameters  # no SMPL model yet
    assert any("needs a SMPL model" in text for text in report.enabled)
    rgb = report.parameters["hpe_pose"]["ros__parameters"]
    assert rgb["topdown"]["lifter"] == "default"  # the W32 CA-PF cannot follow a W48 2D model
    (tmp_path / "smpl.pkl").write_bytes(b"m")
    report = check(tmp_path, table)
    (tmp_path / "nodes.yaml").write_text(yaml.safe_dump(report.parameters))
    event = load_node_parameters(tmp_path / "nodes.yaml", "hpe_event_pose")
    assert event["pipeline"] == "eventhpe"
    assert pipeline_options(event, "eventhpe") == {
        "flownet_checkpoint": str(tmp_path / "flow.pkl"),
        "shapenet_checkpoint": str(tmp_path / "shape.pkl"),
        "smpl_model_path": str(tmp_path / "smpl.pkl"),
        "smpl_gender": "male",
    }
    rgb = load_node_parameters(tmp_path / "nodes.yaml", "hpe_pose")
    assert (
        rgb["topdown.pose_checkpoint"] == str(tmp_path / "p48.pth") and rgb["topdown.smpl_gender"] == "male"
    )
    assert any(text.startswith("eventhpe") for text in report.enabled)


def test_check_refuses_a_file_for_a_folder(tmp_path) -> None:
    (tmp_path / "x").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        check(tmp_path / "x")


def test_fetch_keeps_only_files_that_pass_the_checks(tmp_path, file_server) -> None:
    from hpe_ros.models.zoo import fetch

    served, url = file_server
    good, bad = b"weights as published", b"weights as corrupted"
    table = [
        _entry("good", "good file.pth", "other", good),
        _entry("bad", "bad.pth", "other", good),
        _entry("plain", "plain.pth", "other"),
        _entry("absent", "absent.pth", "other", good),
    ]
    (served / "good file.pth").write_bytes(good)  # a name that needs quoting in the URL
    (served / "bad.pth").write_bytes(bad)
    (served / "plain.pth").write_bytes(b"anything")
    out = tmp_path / "out"
    report = fetch(url, out, table)
    assert {f.entry.key: f.status for f in report.fetched} == {"good": VERIFIED, "plain": UNVERIFIED}
    assert [e.key for e in report.not_on_server] == ["absent"]
    assert [e.key for e, _ in report.failed] == ["bad"] and "sha256" in report.failed[0][1]
    assert sorted(p.name for p in out.iterdir()) == [
        "good file.pth",
        "plain.pth",
    ]  # nothing partial, no bad file
    assert (out / "good file.pth").read_bytes() == good
    again = fetch(url, out, table, keys=["good"])
    assert [f.entry.key for f in again.present] == ["good"] and not again.fetched
    with pytest.raises(ValueError, match="unknown zoo keys"):
        fetch(url, out, table, keys=["nope"])
