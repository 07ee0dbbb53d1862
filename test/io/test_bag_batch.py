"""Many bags: serially and as Ray tasks (a local Ray instance, 2 CPUs) give the serial run's bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpe_ros.cli.demo import write_sample_recording
from hpe_ros.cli.main import main as cli_main
from hpe_ros.io.bag_batch import LOCAL, BagJob, process_bags
from hpe_ros.io.bag_processing import process_bag
from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.pipelines.registry import create_pipeline
from hpe_ros.pipelines.tracking.stage import tracking_from_options

TRACKING = {"enabled": True, "smoothing": True}


def _bag_bytes(path: Path) -> list[tuple[str, int, bytes]]:
    with BagReader(path) as reader:
        return [(topic, stamp, bytes(raw)) for topic, stamp, raw in reader.raw_messages()]


def _poses_with_noise(truth: Path, seed: int) -> Path:
    """The ground truth with per-bag noise, so that every bag's output differs from the others'."""
    data = dict(np.load(truth))
    noise = np.random.default_rng(seed).normal(0, 0.01, data["joints_3d"].shape)
    data["joints_3d"] = data["joints_3d"] + noise
    path = truth.with_name(f"poses_{seed}.npz")
    np.savez(path, **data)
    return path


@pytest.fixture
def bags(tmp_path: Path) -> list[tuple[Path, Path]]:
    """Three small recordings of different lengths, each with its own poses to replay."""
    out = []
    for index, frames in enumerate((5, 7, 6)):
        folder = tmp_path / f"rec{index}"
        folder.mkdir()
        bag, truth = write_sample_recording(folder, num_frames=frames)
        out.append((bag, _poses_with_noise(truth, index)))
    return out


def _serial_reference(bag: Path, poses: Path, out: Path, **options) -> list[tuple[str, int, bytes]]:
    pipeline = create_pipeline("replay", {"path": str(poses), "match": "stamp"})
    process_bag(bag, out, pipeline, tracking=tracking_from_options(TRACKING), progress=False, **options)
    return _bag_bytes(out)


def _camera_info_only_bag(source: Path, path: Path) -> Path:
    """A readable bag without an image topic: processing it fails with a BagError."""
    classes = RosbagsMessageClasses()
    with BagReader(source) as reader, BagWriter(path, typestore=classes.typestore) as writer:
        for item in reader.messages(["/camera/camera_info"]):
            writer.write(item.topic, item.message, item.timestamp_ns)
    return path


@pytest.mark.slow
def test_ray_local_outputs_equal_the_serial_run_and_a_failure_is_reported(bags, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    options = {"tf": True, "storage": "mcap"}
    references = [_serial_reference(bag, poses, tmp_path / f"serial{i}", **options)
                  for i, (bag, poses) in enumerate(bags)]
    broken = _camera_info_only_bag(bags[0][0], tmp_path / "no_images")
    jobs = [BagJob(bag, tmp_path / "ray" / f"out{i}", "replay", {"path": str(poses), "match": "stamp"},
                   TRACKING, options) for i, (bag, poses) in enumerate(bags)]
    jobs.insert(1, BagJob(broken, tmp_path / "ray" / "broken", "replay", jobs[0].options, TRACKING, options))
    done = []
    outcomes = process_bags(jobs, ray_address=LOCAL, num_cpus=2, on_done=done.append)
    assert [o.job for o in outcomes] == jobs and sorted(map(id, done)) == sorted(map(id, outcomes))
    assert [o.ok for o in outcomes] == [True, False, True, True]
    assert "no image topic" in outcomes[1].error and outcomes[1].report is None
    for outcome, reference in zip([outcomes[0], *outcomes[2:]], references, strict=True):
        assert outcome.report.processed == outcome.report.input_frames > 0
        assert _bag_bytes(outcome.job.out_bag) == reference
    assert len({len(r) for r in references}) == 3  # the bags really differ


def test_serial_mode_keeps_going_after_a_missing_bag(bags, tmp_path: Path) -> None:
    (bag, poses), *_ = bags
    reference = _serial_reference(bag, poses, tmp_path / "reference")
    options = {"path": str(poses), "match": "stamp"}
    jobs = [BagJob(tmp_path / "missing", tmp_path / "o_missing", "replay", options, TRACKING),
            BagJob(bag, tmp_path / "o_good", "replay", options, TRACKING)]
    first, second = process_bags(jobs)
    assert not first.ok and "not found" in first.error
    assert second.ok and _bag_bytes(second.job.out_bag) == reference
    with pytest.raises(ValueError, match="same output"):
        process_bags([jobs[1], BagJob(bag, tmp_path / "o_good", "replay", options)])


def test_cli_process_bags_writes_one_output_per_input_and_exits_1_on_a_failure(bags, tmp_path: Path,
                                                                               capsys) -> None:
    (bag, poses), (bag2, _), _ = bags
    out_dir = tmp_path / "outputs"
    broken = _camera_info_only_bag(bag, tmp_path / "broken")
    argv = ["process-bags", str(bag), str(broken), "--output-dir", str(out_dir), "--pipeline", "replay",
            "--set", f"replay.path={poses}", "--set", "replay.match=stamp"]
    assert cli_main(argv) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "1/2 bags processed" in printed
    assert cli_main(["process", str(bag), str(tmp_path / "ref"), *argv[5:], "--quiet"]) == 0
    assert _bag_bytes(out_dir / bag.name) == _bag_bytes(tmp_path / "ref")
    assert cli_main(argv) == 2  # the outputs exist now: refused before anything runs
    assert "already exist" in capsys.readouterr().err
    assert cli_main(["process-bags", str(bag), str(bag2), "--output-dir", str(tmp_path / "o2")]) == 2
    assert "same name" in capsys.readouterr().err
