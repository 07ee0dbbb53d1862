import importlib.util

import pytest
import torch
from torch import nn

from hpe_ros.pipelines.backends.runtime import (
    BackendUnavailableError,
    EngineKey,
    TensorRTBackend,
    cached_engine,
    create_backend,
    default_engine_cache,
    engine_cache_path,
    file_sha256,
    profile_shapes,
    resolve_backend,
)

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(self.bn(self.conv(x)))
        return y, y.mean(dim=(2, 3))


def test_torch_and_onnxruntime_backends_agree(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    net = _Net().eval()
    example = torch.randn(2, 3, 8, 8)
    eager = create_backend("torch", net, [example])
    ort = create_backend("onnxruntime", net, [example], onnx_path=tmp_path / "net.onnx")
    batch_of_five = torch.randn(5, 3, 8, 8)  # a different batch size: the batch axis is dynamic
    for a, b in zip(eager(batch_of_five), ort(batch_of_five), strict=False):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert ort.describe()["backend"] == "onnxruntime"
    assert ort.describe()["model"] == str(tmp_path / "net.onnx")


def test_onnx_exports_without_a_path_leave_no_file_behind() -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    backend = create_backend("onnxruntime", _Net().eval(), [torch.randn(1, 3, 8, 8)])
    assert not backend.path.exists() and not backend.path.parent.exists()
    assert backend(torch.randn(2, 3, 8, 8))[0].shape == (2, 4, 8, 8)  # the session runs from memory


def test_unavailable_backends_say_why() -> None:
    net = _Net()
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="CUDA"):
            create_backend("torch", net, [], device="cuda")
    with pytest.raises(BackendUnavailableError):
        create_backend("tensorrt", net, [], engine_path="model.engine")
    with pytest.raises(ValueError, match="unknown backend"):
        create_backend("tflite", net, [])


def test_auto_backend_is_onnxruntime_on_a_cpu_and_torch_on_cuda() -> None:
    expected = "onnxruntime" if importlib.util.find_spec("onnxruntime") else "torch"
    assert resolve_backend("auto", "cpu") == expected
    assert resolve_backend("auto", "cuda:0") == "torch"
    assert resolve_backend("torch", "cpu") == "torch"


def test_capf_fast_path_exports_with_a_dynamic_batch(tmp_path) -> None:
    """The lifter exported at batch 1 (pre-embedded sampling, packed linears) runs any batch in ONNX
    Runtime."""
    pytest.importorskip("onnxruntime")
    from hpe_ros.models import create_model
    from hpe_ros.pipelines.rgb.topdown import CapfWithFlatInputs

    torch.manual_seed(0)
    model = create_model("capf_hrnet32").eval().requires_grad_(False)
    with torch.no_grad():
        for block in model.context_blocks:
            block.sampling_offsets.weight.normal_(0, 0.02)

    def inputs(batch: int) -> list[torch.Tensor]:
        sizes = zip((32, 64, 128, 256), (1, 2, 4, 8), strict=True)
        maps = [torch.randn(batch, c, 64 // s, 48 // s) for c, s in sizes]
        return [
            torch.rand(batch, 17, 2) - 0.5,
            torch.rand(batch, 17, 2) * torch.tensor([192.0, 256.0]),
            *maps,
        ]

    eager = create_backend("torch", CapfWithFlatInputs(model), inputs(1))
    assert eager.describe()["packed_linears"] == "16"  # the joint blocks' linears
    ort = create_backend(
        "onnxruntime", CapfWithFlatInputs(model), inputs(1), onnx_path=tmp_path / "capf.onnx"
    )
    batch_of_three = inputs(3)
    # float32 rounding differs between the runtimes; a wrong batch offset would be off by ~0.1-1
    torch.testing.assert_close(eager(*batch_of_three)[0], ort(*batch_of_three)[0], atol=1e-3, rtol=1e-3)
    # Only the batch is left to the runtime: every other size is a constant of the graph, so
    # ONNX Runtime computes no shapes per call (one Shape: the batch, for the images' row offsets).
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(tmp_path / "capf.onnx")).graph
    assert sum(node.op_type == "Shape" for node in graph.node) == 1


# ---- TensorRT: the cache and profile logic runs anywhere; engines only on a GPU -----------------

SHA = "0123456789abcdef" * 4


def test_engine_key_names_every_part_that_invalidates_an_engine() -> None:
    key = EngineKey(SHA, "NVIDIA H100 80GB HBM3", "10.3.0.26", "fp16", 16)
    assert key.filename() == "0123456789abcdef_nvidia-h100-80gb-hbm3_trt10.3.0.26_fp16_b16.engine"
    others = [
        EngineKey("f" * 64, key.gpu_name, key.tensorrt_version),
        EngineKey(SHA, "Orin (nvgpu)", "10.3.0.26"),
        EngineKey(SHA, key.gpu_name, "10.4.0"),
        EngineKey(SHA, key.gpu_name, key.tensorrt_version, "fp32"),
        EngineKey(SHA, key.gpu_name, key.tensorrt_version, "fp16", 32),
    ]
    names = {k.filename() for k in [key, *others]}
    assert len(names) == 6 and all("/" not in n and " " not in n for n in names)
    for bad in (dict(model_sha256="abc"), dict(precision="fp8"), dict(max_batch=0)):
        with pytest.raises(ValueError):
            EngineKey(**{"model_sha256": SHA, "gpu_name": "g", "tensorrt_version": "10", **bad})


def test_engine_cache_folder_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HPE_ROS_ENGINE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_engine_cache() == tmp_path / "xdg" / "hpe_ros" / "engines"
    monkeypatch.setenv("HPE_ROS_ENGINE_CACHE", str(tmp_path / "engines"))
    key = EngineKey(SHA, "gpu", "10.0")
    assert engine_cache_path(key) == tmp_path / "engines" / key.filename()
    assert engine_cache_path(key, tmp_path / "other") == tmp_path / "other" / key.filename()


def test_an_engine_is_built_once_per_key_and_written_whole(tmp_path) -> None:
    builds: list[EngineKey] = []

    def builder(key: EngineKey):
        return lambda: builds.append(key) or f"engine for {key.filename()}".encode()

    fp16, fp32 = EngineKey(SHA, "gpu", "10.0", "fp16"), EngineKey(SHA, "gpu", "10.0", "fp32")
    first = cached_engine(fp16, builder(fp16), tmp_path)
    again = cached_engine(fp16, builder(fp16), tmp_path)
    other = cached_engine(fp32, builder(fp32), tmp_path)
    assert first == again != other and builds == [fp16, fp32]
    assert first.read_bytes() == f"engine for {fp16.filename()}".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [fp16.filename(), fp32.filename()]
    )  # no partials
    with pytest.raises(RuntimeError, match="produced nothing"):
        cached_engine(EngineKey(SHA, "gpu", "10.0", "int8"), lambda: b"", tmp_path)


def test_file_hash_is_the_content_sha256(tmp_path) -> None:
    import hashlib

    data = bytes(range(256)) * 5000
    (tmp_path / "m.onnx").write_bytes(data)
    assert file_sha256(tmp_path / "m.onnx") == hashlib.sha256(data).hexdigest()


def test_profile_shapes_vary_the_batch_only() -> None:
    ranges = profile_shapes([(-1, 3, 256, 192), (1, 17, 2)], max_batch=16, opt_batch=4)
    assert ranges[0].minimum == (1, 3, 256, 192) and ranges[0].optimum == (4, 3, 256, 192)
    assert ranges[1].maximum == (16, 17, 2)
    with pytest.raises(ValueError, match="only the batch"):
        profile_shapes([(-1, 3, -1, -1)], max_batch=4)
    with pytest.raises(ValueError, match="opt_batch"):
        profile_shapes([(1, 3)], max_batch=4, opt_batch=8)


@pytest.mark.skipif(HAS_TENSORRT and torch.cuda.is_available(), reason="TensorRT and CUDA are here")
def test_tensorrt_unavailable_names_what_to_do(tmp_path) -> None:
    for attempt in (
        lambda: TensorRTBackend(tmp_path / "m.engine"),
        lambda: create_backend("tensorrt", _Net(), [torch.randn(1, 3, 8, 8)], engine_cache=tmp_path),
    ):
        with pytest.raises(BackendUnavailableError) as error:
            attempt()
        message = str(error.value)
        assert "hpe-ros export MODEL OUT.onnx --engine" in message and "export-onnx" not in message
        assert ("not installed" in message) != HAS_TENSORRT or "CUDA" in message
    assert list(tmp_path.iterdir()) == []  # nothing exported when nothing can be built


@pytest.mark.skipif(not (HAS_TENSORRT and torch.cuda.is_available()), reason="needs TensorRT and a CUDA GPU")
def test_tensorrt_engine_matches_torch_on_cuda_tensors(tmp_path) -> None:
    torch.manual_seed(0)
    net = _Net().eval()
    example = torch.randn(2, 3, 8, 8)
    fp32 = create_backend("tensorrt", net, [example], device="cuda", engine_cache=tmp_path)
    assert len(list(tmp_path.glob("*.engine"))) == 1
    again = create_backend("tensorrt", net, [example], device="cuda", engine_cache=tmp_path)  # from the cache
    assert again.path == fp32.path
    batch = torch.randn(5, 3, 8, 8, device="cuda")
    expected = create_backend("torch", net, [example], device="cuda")(batch)
    for a, b in zip(expected, fp32(batch), strict=False):
        assert b.device.type == "cuda"
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)
    half = create_backend("tensorrt", net, [example], device="cuda", half=True, engine_cache=tmp_path)
    for a, b in zip(expected, half(batch), strict=False):
        torch.testing.assert_close(a, b, atol=2e-2, rtol=2e-2)
