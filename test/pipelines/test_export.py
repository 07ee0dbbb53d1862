"""Every exported network matches torch eager on ONNX Runtime (CPU) at batch 1 and 3 (dynamic batch).

Random weights, with every parameter nudged so that the zero-initialised heads (PoSh, CA-PF's
sampling offsets) take part; small inputs where the network allows (64x64 images). Tolerances:
``max|onnx - torch| <= atol + rtol * max|torch|`` per output, set per target in
:data:`hpe_ros.pipelines.export.EXPORT_TARGETS` (1e-4 + 1e-4 x scale for the convolutional
networks, 1e-4 + 1e-3 x scale for CA-PF, HEMlets and ShapeNet, tighter for the MLPs and SMPL).
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from hpe_ros.pipelines.export import (
    EXPORT_TARGETS,
    ExportOptions,
    ExportUnsupportedError,
    build_export,
    check_export,
    export_model,
    export_tflite,
    file_sha256,
    list_targets,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed"
)

SMALL = (64, 64)

# Targets checked through ONNX Runtime. The W48 HRNet / HigherHRNet variants are the W32 code with
# wider layers (each ~15 s here): one of them is exported, all of them are built below.
FAST = [
    "hrnet_w32_heatmap",
    "hrnet_w32_sa_simdr",
    "capf_hrnet32",
    "capf_mpi_w48",
    "capf_mpi_w32",
    "capf_baseline",
    "default_lifter",
    "hemlets_posh",
    "eventhpe_flownet",
    "smpl",
]
SLOW = [
    "hrnet_w32_simdr",
    "hrnet_w48_heatmap",
    "swahr_w32",
    "capf_hrnet48",
    "capf_cpn",
    "hemlets_resnet50",
    "eventhpe_shapenet",
]


def _nudge(module: torch.nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.02)


def _export_and_check(name: str, tmp_path) -> None:
    model = build_export(name, ExportOptions(random_weights=True, input_size=SMALL))
    _nudge(model.module)
    result = export_model(model, tmp_path / f"{name}.onnx")
    assert result.size_bytes == result.path.stat().st_size and result.sha256 == file_sha256(result.path)
    check = check_export(model, result.path, batches=(1, 3))
    assert {o.batch for o in check.outputs} == {1, 3}
    assert [o.output for o in check.outputs if o.batch == 3] == list(model.output_names)
    failed = [o for o in check.outputs if not o.ok]
    assert not failed, f"{name}: {failed}"
    assert all(o.reference_scale > 0 for o in check.outputs), "an output that is all zeros checks nothing"


@pytest.mark.parametrize("name", FAST)
def test_export_matches_torch_at_batch_1_and_3(name: str, tmp_path) -> None:
    _export_and_check(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_large_exports_match_torch_at_batch_1_and_3(name: str, tmp_path) -> None:
    _export_and_check(name, tmp_path)


def test_every_target_builds_and_runs_at_batch_2() -> None:
    untested = set(EXPORT_TARGETS) - set(FAST) - set(SLOW)
    for name in sorted(untested):
        model = build_export(name, ExportOptions(random_weights=True, input_size=SMALL))
        with torch.inference_mode():
            outputs = model.module(*model.inputs(2))
        outputs = (outputs,) if isinstance(outputs, torch.Tensor) else outputs
        assert len(outputs) == len(model.output_names) and all(o.shape[0] == 2 for o in outputs), name


def test_a_wrong_export_fails_the_check(tmp_path) -> None:
    model = build_export("capf_baseline", ExportOptions(random_weights=True))
    path = export_model(model, tmp_path / "lifter.onnx").path
    with torch.no_grad():
        model.module.head.bias.add_(1e-2)  # torch now differs from the file by 0.01
    check = check_export(model, path)
    assert not check.ok and 0.009 < check.worst().max_abs_error < 0.011


def test_checkpoint_weights_are_the_ones_exported(tmp_path) -> None:
    random = build_export("capf_baseline", ExportOptions(random_weights=True, seed=3))
    _nudge(random.module, seed=5)
    torch.save(random.module.state_dict(), tmp_path / "lifter.pt")
    loaded = build_export("capf_baseline", ExportOptions(checkpoint=str(tmp_path / "lifter.pt")))
    assert loaded.weights == str(tmp_path / "lifter.pt")
    path = export_model(loaded, tmp_path / "lifter.onnx").path
    assert check_export(random, path).ok  # the file holds the checkpoint's weights, not fresh ones
    fresh = build_export("capf_baseline", ExportOptions(random_weights=True, seed=4))
    assert not check_export(fresh, path).ok


def test_targets_without_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="--checkpoint PATH.*--random"):
        build_export("hrnet_w32_heatmap")
    with pytest.raises(ValueError, match="--smpl-model"):
        build_export("smpl")
    with pytest.raises(ValueError, match="unknown export target"):
        build_export("hrnet_w64")
    with pytest.raises(ValueError, match="multiples of 32"):
        build_export("hrnet_w32_heatmap", ExportOptions(random_weights=True, input_size=(100, 64)))
    assert build_export("default_lifter").weights.endswith("default_lifter.pt")  # packaged: no option needed


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe wheel not installed")
@pytest.mark.parametrize("name", ["blazepose_detection", "blazepose_landmark_full"])
def test_blazepose_tflite_export_says_why_it_fails(name: str, tmp_path) -> None:
    assert name in list_targets()
    with pytest.raises(ExportUnsupportedError, match="LiteRT") as error:
        export_tflite(name, tmp_path / f"{name}.onnx")
    if importlib.util.find_spec("tflite2onnx") is None:
        assert "pip install tflite2onnx" in str(error.value) and "DENSIFY" in str(error.value)
    assert not (tmp_path / f"{name}.onnx").exists()
    with pytest.raises(ExportUnsupportedError, match="export_tflite"):
        build_export(name)


def test_export_command_writes_and_checks_the_file(tmp_path, capsys) -> None:
    from hpe_ros.cli.main import main

    assert main(["export", "capf_baseline", str(tmp_path / "lifter.onnx"), "--random"]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "lifter.onnx").is_file() and file_sha256(tmp_path / "lifter.onnx") in printed
    assert printed.count(" ok") == 2 and "batch 3 joints_3d" in printed
    assert main(["export", "hrnet_w32_heatmap", str(tmp_path / "hrnet.onnx")]) == 2  # no weights named
    assert "--random" in capsys.readouterr().err and not (tmp_path / "hrnet.onnx").exists()
    assert main(["export", "--list"]) == 0
    assert set(capsys.readouterr().out.split()) >= set(list_targets())


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here")
def test_half_export_needs_cuda(tmp_path) -> None:
    from hpe_ros.pipelines.backends.runtime import BackendUnavailableError

    model = build_export("capf_baseline", ExportOptions(random_weights=True))
    with pytest.raises(BackendUnavailableError, match="CUDA"):
        export_model(model, tmp_path / "half.onnx", half=True)
    assert not (tmp_path / "half.onnx").exists()
