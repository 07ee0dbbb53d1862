"""`hpe-ros train` then `hpe-ros eval` on the shared Human3.6M frames; `hpe-ros train-default-lifter`."""

from pathlib import Path

import pytest

from hpe_ros.cli.main import main


def test_train_then_eval_on_h36m_frames(shared_data: Path, tmp_path: Path, capsys) -> None:
    data = shared_data / "h36m_frames"
    model = ["--model", "capf_baseline", "--model-arg", "dim=32", "--model-arg", "depth=1"]
    out = tmp_path / "run"
    assert main(["train", "--dataset", "h36m-frames", "--data", str(data), "--epochs", "3",
                 "--batch-size", "4", "--output", str(out), *model]) == 0
    assert (out / "last.pt").is_file()
    assert main(["train", "--dataset", "h36m-frames", "--data", str(data), "--epochs", "4",
                 "--batch-size", "4", "--output", str(out), "--resume", *model]) == 0
    assert "trained 4 epochs" in capsys.readouterr().out
    assert main(["eval", "--dataset", "h36m-frames", "--data", str(data),
                 "--checkpoint", str(out / "last.pt"), *model]) == 0
    printed = capsys.readouterr().out
    assert "MPJPE" in printed and "P-MPJPE" in printed


def test_eval_refuses_a_checkpoint_of_another_model(shared_data: Path, tmp_path: Path, capsys) -> None:
    import torch

    from hpe_ros.models.registry import create_model

    path = tmp_path / "other.pt"
    torch.save(create_model("capf_baseline", dim=32, depth=1).state_dict(), path)
    code = main(["eval", "--dataset", "h36m-frames", "--data", str(shared_data / "h36m_frames"),
                 "--checkpoint", str(path), "--model", "capf_baseline",
                 "--model-arg", "dim=64", "--model-arg", "depth=1"])
    assert code == 2
    assert "shape differs" in capsys.readouterr().err


def test_h36m_needs_cameras(tmp_path: Path, capsys) -> None:
    (tmp_path / "x.npz").write_bytes(b"")
    with pytest.raises(SystemExit):
        main(["eval", "--dataset", "nope", "--data", "x", "--checkpoint", "y"])
    assert main(["eval", "--dataset", "h36m", "--data", str(tmp_path / "x.npz"), "--checkpoint", "y"]) == 2
    assert "--cameras" in capsys.readouterr().err


def test_train_default_lifter_fine_tunes_with_its_schedule_and_seeds(shared_data: Path, tmp_path: Path,
                                                                     capsys) -> None:
    import hashlib

    import torch

    from hpe_ros.pipelines.rgb.default_lifter import default_lifter_path

    start = default_lifter_path()
    out = tmp_path / "tuned.pt"
    assert main(["train-default-lifter", "--data", str(shared_data / "cmu_mocap"), "--output", str(out),
                 "--init", str(start), "--steps", "2", "--learning-rate", "3e-4", "--final-lr-fraction",
                 "0.1", "--generator-seed", "100", "--synthesis-rate", "0.5", "--synthesis-families",
                 "seated"]) == 0
    # the second (last) step's rate: 3e-4 x (0.1 + 0.9 x (1 + cos(pi / 2)) / 2)
    printed = capsys.readouterr().out
    assert "step 2/2: " in printed and "lr 0.000165 " in printed
    payload = torch.load(out, weights_only=True)
    assert payload["final_lr_fraction"] == 0.1 and payload["generator_seed"] == 100 and payload["seed"] == 0
    assert payload["learning_rate"] == 3e-4 and payload["generator"]["synthesis_families"] == "seated"
    assert payload["fine_tuned_from"]["sha256"] == hashlib.sha256(start.read_bytes()).hexdigest()
    shipped = torch.load(start, weights_only=True)["state_dict"]
    moved = [name for name, value in payload["state_dict"].items()
             if value.is_floating_point() and not torch.equal(value, shipped[name])]
    assert moved  # two steps of Adam changed the weights
