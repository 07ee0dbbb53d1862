"""The composed top-down RGB pipeline: person boxes -> HRNet 2D -> (Context-Aware) lifter -> metric placement.

Per image:

1. **boxes** from a :mod:`~hpe_ros.pipelines.rgb.person_boxes` source (upstream detector boxes, the
   whole image, SWAHR bottom-up, BlazePose, or boxes tracked from the previous frame's
   keypoints); the best ``max_people`` scoring at least ``min_box_score`` are kept.
2. **crop**: all people in one batch with the HRNet test-time affine crops
   (:func:`~hpe_ros.pipelines.rgb.crops.crop_people`: aspect-corrected box x 1.25, 256x192 or 384x288),
   by ``protocol`` (:mod:`~hpe_ros.pipelines.rgb.topdown_protocol`): "official" (default) reproduces
   the official test code bit for bit (``cv2.warpAffine`` uint8 crops on the CPU, official
   matrices); "float" warps with ``grid_sample`` on ``device`` (a GPU batch).
3. **2d**: HRNet-W32/W48 with the heatmap, SimDR or SA-SimDR head (:mod:`hpe_ros.models.simdr`),
   BatchNorm folded (:mod:`hpe_ros.models.fuse`), run through a :mod:`~hpe_ros.pipelines.backends.runtime`
   backend; with ``flip_test`` the mirrored crops go in the same batch and the official merge
   is applied (:mod:`~hpe_ros.pipelines.rgb.codecs`). COCO-17 keypoints go back to the image through
   the protocol's inverse matrices (:func:`~hpe_ros.pipelines.rgb.topdown_protocol.decode_2d`).
   The same pass returns the four
   HRNet maps CA-PF samples (:meth:`~hpe_ros.models.hrnet.HRNet.forward_features`).
4. **lift**: COCO-17 -> H36M-17 (:func:`~hpe_ros.core.joints.convert_joints`; CA-PF was trained on
   Human3.6M 2D detections in H36M order). ``capf_hrnet32`` / ``capf_hrnet48`` (Context-Aware
   PoseFormer) take, as the official code prepares them: the keypoints in image pixels,
   screen-normalised with the image size (``x / w * 2 - [1, h / w]``); the HRNet maps; and the
   same keypoints in pixels of the crop those maps come from (scaled to the 192x256 frame the
   model's grid mapping assumes when the crop is 384x288). With ``lifter_flip_test`` the
   mirrored crop's maps (already computed for the 2D flip test, else one more backbone pass)
   and mirrored keypoints give a second estimate, mirrored back and averaged (the official
   evaluation). ``capf_baseline`` is the context-agnostic lifter (screen-normalised keypoints
   only); ``default`` the packaged lifter trained on CMU motion capture. The official CA-PF
   crops are 2 m boxes around the true root without the 1.25 padding; here the crop is the 2D
   model's, and the keypoints are always given in that crop's frame, so features and keypoints
   agree.
5. **place**: root-relative joints -> camera frame with the CameraInfo
   (:func:`~hpe_ros.pipelines.output.placement.place_skeletons`); without intrinsics the skeletons stay
   root-relative (``metric`` False).
6. optional **mesh** (:mod:`~hpe_ros.pipelines.output.mesh`).

People leave the pipeline without ids: the nodes' tracking stage
(:mod:`~hpe_ros.pipelines.tracking.stage`) gives every pipeline's people their ids.
Missing checkpoints are an error naming the option to set, unless ``allow_random_weights``
(tests, benchmarks) lets the networks run untrained.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import Tensor, nn

from hpe_ros.core.boxes import select_boxes
from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import COCO_17, H36M_17, convert_joints, flip_joints
from hpe_ros.datasets.samples import normalize_screen
from hpe_ros.models.capf import ContextAwarePoseFormer
from hpe_ros.models.checkpoints import load_strict, read_checkpoint, strip_prefix, unwrap_state_dict
from hpe_ros.models.convert_hrnet import load_hrnet_checkpoint
from hpe_ros.models.convert_lifters import convert_capf_state_dict
from hpe_ros.models.fuse import optimize_for_inference
from hpe_ros.models.lifter_baseline import CoordinateLifter
from hpe_ros.models.registry import create_model
from hpe_ros.models.simdr import HRNetHeatmap, HRNetSimDR
from hpe_ros.pipelines.backends.runtime import Backend, create_backend, resolve_backend
from hpe_ros.pipelines.base import ImageFrame, Pipeline, PoseResult
from hpe_ros.pipelines.output.mesh import MeshOutput, mesh_off_message
from hpe_ros.pipelines.output.people import place_people
from hpe_ros.pipelines.rgb.codecs import COCO_FLIP_PAIRS, HeatmapCodec, SimDRCodec
from hpe_ros.pipelines.rgb.crops import INPUT_SIZE_256x192, INPUT_SIZE_384x288, crop_people
from hpe_ros.pipelines.rgb.person_boxes import (
    BOX_SOURCES,
    BlazePoseBoxes,
    BottomUpBoxes,
    BoxSource,
    KeypointTrackedBoxes,
    UpstreamBoxes,
    WholeImageBoxes,
)
from hpe_ros.pipelines.rgb.topdown_protocol import PROTOCOLS, decode_2d

if TYPE_CHECKING:
    from hpe_ros.pipelines.rgb.bottom_up import BottomUpEstimator

NAME = "topdown"
POSE_MODEL_PATTERN = re.compile(r"^hrnet_w(32|48)_(heatmap|simdr|sa_simdr)$")
LIFTERS = ("capf_hrnet32", "capf_hrnet48", "capf_baseline", "default")
INPUT_SIZES = {"256x192": INPUT_SIZE_256x192, "384x288": INPUT_SIZE_384x288}
BOX_DETECTORS = ("whole_image", "bottom_up", "blazepose", "none")
_CAPF_WIDTH = {"capf_hrnet32": 32, "capf_hrnet48": 48}
RANDOM_WEIGHTS_WARNING = (
    "topdown runs {what} with RANDOM weights (allow_random_weights): its output means nothing"
)


def _missing(option: str, what: str) -> ValueError:
    return ValueError(f"pipeline '{NAME}' needs {what}: set {NAME}.{option} (or {NAME}.allow_random_weights "
                      "to run untrained networks, for tests only)")


@dataclass(frozen=True)
class PoseModelSpec:
    """A ``pose_model`` name taken apart."""

    width: int  # 32 or 48
    head: str  # "heatmap", "simdr" or "sa-simdr"

    @classmethod
    def parse(cls, name: str) -> PoseModelSpec:
        match = POSE_MODEL_PATTERN.match(name)
        if match is None:
            raise ValueError(
                f"{NAME}.pose_model must be hrnet_w32|w48 + _heatmap|_simdr|_sa_simdr, got {name!r}"
            )
        return cls(int(match.group(1)), match.group(2).replace("_", "-"))


class PoseNetWithFeatures(nn.Module):
    """An HRNet pose network returning its head output(s) followed by the four HRNet maps.

    Heatmap head: ``(heatmaps, map0, map1, map2, map3)``; SimDR heads: ``(x, y, map0, ...)``.
    One tuple of tensors, so that every backend (and an ONNX export) can run it.
    """

    def __init__(self, network: HRNetHeatmap | HRNetSimDR, simdr: bool) -> None:
        super().__init__()
        self.network = network
        self.simdr = simdr

    def forward(self, crops: Tensor) -> tuple[Tensor, ...]:
        features = self.network.forward_features(crops)
        maps = self.network.final_layer(features.maps[0])
        if self.simdr:
            flat = maps.flatten(2)
            simdr = cast(HRNetSimDR, self.network)  # simdr is set for SimDR networks
            return (simdr.mlp_head_x(flat), simdr.mlp_head_y(flat), *features.maps)
        return (maps, *features.maps)


class CapfWithFlatInputs(nn.Module):
    """CA-PF called with flat tensor inputs ``(keypoints_2d, keypoints_crop, map0, ..., mapL)``."""

    def __init__(self, lifter: nn.Module) -> None:
        super().__init__()
        self.lifter = lifter

    def forward(self, keypoints_2d: Tensor, keypoints_crop: Tensor, *maps: Tensor) -> Tensor:
        return self.lifter(keypoints_2d, list(maps), keypoints_crop)


def load_lifter_weights(model: nn.Module, path: str) -> None:
    """Official CA-PF checkpoints (``volume_net.*`` + ``backbone.*``) or our lifter state dicts, strictly."""
    state = strip_prefix(
        unwrap_state_dict(read_checkpoint(path), container_keys=("model", "state_dict")), "module."
    )
    if any(key.startswith("volume_net.") for key in state):
        state = convert_capf_state_dict(state).lifter
    load_strict(model, state)


@dataclass(frozen=True)
class Keypoints2D:
    """The 2D stage's output for the people of one frame."""

    image: np.ndarray  # (N, 17, 2) COCO-17 image pixels
    crop: np.ndarray  # (N, 17, 2) COCO-17 crop-input pixels
    scores: np.ndarray  # (N, 17)
    maps: tuple[Tensor, ...]  # HRNet maps of the crops (empty when not needed)
    flipped_maps: tuple[Tensor, ...]  # of the mirrored crops (empty unless computed)


class TopDownPipeline(Pipeline):
    """Boxes -> HRNet 2D -> lifter -> placement (see the module docstring)."""

    name = NAME
    input_kind = "image"

    def __init__(
        self,
        pose_model: str = "hrnet_w32_heatmap",
        pose_checkpoint: str = "",
        input_size: str = "256x192",
        protocol: str = "official",
        flip_test: bool = True,
        simdr_split_ratio: float = 2.0,
        lifter: str = "capf_hrnet32",
        lifter_checkpoint: str = "",
        lifter_flip_test: bool = True,
        box_source: str = "upstream",
        box_detector: str = "whole_image",
        bottom_up_checkpoint: str = "",
        min_box_score: float = 0.3,
        max_people: int = 10,
        box_expand: float = 0.15,
        redetect_every: int = 15,
        backend: str = "auto",
        device: str = "cpu",
        allow_random_weights: bool = False,
        smpl_model_path: str = "",
        posh_checkpoint: str = "",
        smpl_gender: str = "neutral",
        publish_vertices: bool = True,
    ) -> None:
        if input_size not in INPUT_SIZES:
            raise ValueError(f"{NAME}.input_size must be one of {sorted(INPUT_SIZES)}, got {input_size!r}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"{NAME}.protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if lifter not in LIFTERS:
            raise ValueError(f"{NAME}.lifter must be one of {LIFTERS}, got {lifter!r}")
        spec = PoseModelSpec.parse(pose_model)
        if lifter in _CAPF_WIDTH and _CAPF_WIDTH[lifter] != spec.width:
            raise ValueError(f"{NAME}.lifter {lifter} samples HRNet-W{_CAPF_WIDTH[lifter]} maps but "
                             f"{NAME}.pose_model is {pose_model}")
        backend = resolve_backend(backend, device)
        self.allow_random_weights = allow_random_weights
        self.input_size = INPUT_SIZES[input_size]
        self.protocol = protocol
        self.crop_device = device if protocol == "float" else "cpu"
        self.flip_test = flip_test
        self.lifter_name = lifter
        self.lifter_flip_test = lifter_flip_test
        self.min_box_score = min_box_score
        self.max_people = max_people
        self._facts: dict[str, str] = {"pipeline": NAME, "protocol": protocol}
        self.box_source = self._build_box_source(box_source, box_detector, bottom_up_checkpoint, box_expand,
                                                 redetect_every, device)
        self._build_pose(spec, pose_model, pose_checkpoint, simdr_split_ratio, backend, device)
        self._build_lifter(lifter, lifter_checkpoint, backend, device)
        self.mesh = MeshOutput.from_options(
            NAME, smpl_model_path, posh_checkpoint, smpl_gender, publish_vertices
        )
        self._facts["mesh"] = self.mesh.describe() if self.mesh else mesh_off_message(NAME)

    # ---- construction --------------------------------------------------------------------------
    def _random_ok(self, option: str, what: str) -> None:
        if not self.allow_random_weights:
            raise _missing(option, what)
        warnings.warn(RANDOM_WEIGHTS_WARNING.format(what=what), UserWarning, stacklevel=3)

    def _build_box_source(self, kind: str, detector_kind: str, bottom_up_checkpoint: str, expand: float,
                          redetect_every: int, device: str) -> BoxSource:
        if kind not in BOX_SOURCES:
            raise ValueError(f"{NAME}.box_source must be one of {BOX_SOURCES}, got {kind!r}")
        if detector_kind not in BOX_DETECTORS:
            raise ValueError(f"{NAME}.box_detector must be one of {BOX_DETECTORS}, got {detector_kind!r}")
        detector_kind = kind if kind in ("whole_image", "bottom_up", "blazepose") else detector_kind
        if bottom_up_checkpoint and detector_kind != "bottom_up":
            warnings.warn(
                f"{NAME}.bottom_up_checkpoint is ignored: boxes come from {detector_kind}, not the SWAHR "
                f"detector. Set {NAME}.box_source (or, with box_source upstream or tracked, "
                f"{NAME}.box_detector) to bottom_up to use it, or leave it unset.",
                UserWarning,
                stacklevel=3,
            )
        detector: BoxSource | None
        if detector_kind == "whole_image":
            detector = WholeImageBoxes()
        elif detector_kind == "bottom_up":
            detector = BottomUpBoxes(self._bottom_up_estimator(bottom_up_checkpoint, device))
        elif detector_kind == "blazepose":
            from hpe_ros.pipelines.rgb.blazepose import BlazePoseDetector

            detector = BlazePoseBoxes(BlazePoseDetector(video_mode=True))
        else:
            detector = None
        if kind == "upstream":
            source: BoxSource = UpstreamBoxes(detector)
        elif kind == "tracked":
            if detector is None:
                raise ValueError(f"{NAME}.box_source 'tracked' needs a {NAME}.box_detector to start tracks")
            source = KeypointTrackedBoxes(detector, expand=expand, redetect_every=redetect_every)
        else:
            assert detector is not None
            source = detector
        self._facts["boxes"] = source.describe()
        return source

    def _bottom_up_estimator(self, checkpoint: str, device: str) -> BottomUpEstimator:
        from hpe_ros.models.convert_swahr import load_swahr_checkpoint
        from hpe_ros.models.swahr import HigherHRNet
        from hpe_ros.pipelines.rgb.bottom_up import BottomUpEstimator

        model = create_model("swahr_w32")
        assert isinstance(model, HigherHRNet)
        if checkpoint:
            load_swahr_checkpoint(model, checkpoint)
        else:
            self._random_ok("bottom_up_checkpoint", "the SWAHR person detector (a SWAHR-W32 checkpoint)")
        return BottomUpEstimator(model.eval(), device=device)

    def _build_pose(self, spec: PoseModelSpec, name: str, checkpoint: str, split_ratio: float, backend: str,
                    device: str) -> None:
        network: nn.Module
        if spec.head == "heatmap":
            network = create_model(f"hrnet_w{spec.width}_heatmap")
            width, height = self.input_size
            self.codec: HeatmapCodec | SimDRCodec = HeatmapCodec(self.input_size, (width // 4, height // 4))
        else:
            network = create_model(f"hrnet_w{spec.width}_simdr", input_size=self.input_size,
                                   split_ratio=split_ratio, head_type=spec.head)
            self.codec = SimDRCodec(self.input_size, split_ratio, spec.head)
        assert isinstance(network, (HRNetHeatmap, HRNetSimDR))
        if checkpoint:
            load_hrnet_checkpoint(network, checkpoint)
            self._facts["2d"] = f"{name} {checkpoint}"
        else:
            self._random_ok("pose_checkpoint", f"the 2D model {name} (an HRNet / SimDR COCO checkpoint)")
            self._facts["2d"] = f"{name} RANDOM weights"
        self.channels_last = backend == "torch"
        optimized = optimize_for_inference(network, channels_last=self.channels_last, copy_model=False)
        self.pose_net = PoseNetWithFeatures(optimized, simdr=spec.head != "heatmap")
        example = torch.zeros(1, 3, self.input_size[1], self.input_size[0])
        self.pose_backend: Backend = create_backend(backend, self.pose_net, [example], device=device)
        self._head_outputs = 2 if spec.head != "heatmap" else 1
        self.feature_channels = tuple(network.channels)

    def _build_lifter(self, lifter: str, checkpoint: str, backend: str, device: str) -> None:
        self.lifter_backend: Backend | None = None
        self.default_lifter = None
        if lifter == "default":
            from hpe_ros.pipelines.rgb.default_lifter import load_default_lifter

            self.default_lifter = load_default_lifter(checkpoint or None)
            self.lifter_root = H36M_17.root
            self._facts["lifter"] = f"default context-agnostic {checkpoint or '(packaged weights)'}"
            return
        model = create_model(lifter)
        assert isinstance(model, (ContextAwarePoseFormer, CoordinateLifter))
        if checkpoint:
            load_lifter_weights(model, checkpoint)
            self._facts["lifter"] = f"{lifter} {checkpoint}"
        else:
            self._random_ok("lifter_checkpoint", f"the lifter {lifter} (a CA-PF checkpoint, or set "
                                                 f"{NAME}.lifter to 'default' for the packaged lifter)")
            self._facts["lifter"] = f"{lifter} RANDOM weights"
        model.eval().requires_grad_(False)
        joints = torch.zeros(1, len(H36M_17), 2)
        if lifter in _CAPF_WIDTH:
            assert isinstance(model, ContextAwarePoseFormer)
            self.capf_crop_size = model.config.crop_size
            width, height = self.input_size
            maps = [
                torch.zeros(1, c, height // s, width // s)
                for c, s in zip(self.feature_channels, (4, 8, 16, 32), strict=True)
            ]
            module: nn.Module = CapfWithFlatInputs(model)
            example = [joints, joints, *maps]
        else:
            module, example = model, [joints]
        self.lifter_root = int(model.config.root_index)
        self.lifter_backend = create_backend(backend, module, example, device=device)

    # ---- per frame -----------------------------------------------------------------------------
    @property
    def needs_features(self) -> bool:
        return self.lifter_name in _CAPF_WIDTH

    def estimate_2d(self, image: np.ndarray, boxes: np.ndarray) -> Keypoints2D:
        """COCO-17 keypoints (and HRNet maps) of the people in ``boxes`` (N, >=4)."""
        crops = crop_people(
            image,
            boxes,
            self.input_size,
            channels_last=self.channels_last,
            method=self.protocol,
            device=self.crop_device,
        )
        count = len(boxes)
        need_flipped_maps = self.needs_features and self.lifter_flip_test
        batch = crops.images
        if self.flip_test or need_flipped_maps:
            batch = torch.cat([batch, batch.flip(-1)])
        self._crop_done = time.perf_counter()
        outputs = self.pose_backend(batch)
        heads, maps = outputs[: self._head_outputs], outputs[self._head_outputs :]
        decoded = decode_2d(self.codec, heads, crops, self.flip_test, COCO_FLIP_PAIRS)
        plain = tuple(m[:count] for m in maps) if self.needs_features else ()
        flipped = tuple(m[count:] for m in maps) if need_flipped_maps else ()
        return Keypoints2D(decoded.image, decoded.crop, decoded.scores, plain, flipped)

    def lift(self, people: Keypoints2D, image_size: tuple[int, int], camera: CameraModel | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """H36M-17 pixels (N, 17, 2), scores (N, 17) and pelvis-relative camera-frame joints (N, 17, 3)."""
        converted = convert_joints(people.image, COCO_17, H36M_17, people.scores)
        assert converted.scores is not None  # scores were given
        keypoints, scores = converted.points, converted.scores.astype(np.float32)
        if self.default_lifter is not None:
            return keypoints, scores, self.default_lifter.lift(keypoints, scores, camera, image_size)
        screen = normalize_screen(keypoints, np.array(image_size, np.float64))
        inputs = [screen]
        if self.needs_features:
            crop = convert_joints(people.crop, COCO_17, H36M_17).points
            inputs.append(crop)
        flip = self.lifter_flip_test
        if flip:
            mirrored = [flip_joints(screen, H36M_17)]
            if self.needs_features:
                mirrored.append(flip_joints(inputs[1], H36M_17, image_width=self.input_size[0]))
            inputs = [np.concatenate([a, b]) for a, b in zip(inputs, mirrored, strict=True)]
        tensors = [torch.from_numpy(np.nan_to_num(a).astype(np.float32)) for a in inputs]
        if self.needs_features:
            scale = np.array(self.capf_crop_size, np.float32) / np.array(self.input_size, np.float32)
            tensors[1] = tensors[1] * torch.from_numpy(scale)
            maps: Sequence[Tensor] = people.maps
            if flip:
                maps = [torch.cat([a, b]) for a, b in zip(people.maps, people.flipped_maps, strict=True)]
            tensors.extend(maps)
        assert self.lifter_backend is not None
        output = self.lifter_backend(*tensors)[0].double().cpu().numpy()
        if flip:
            count = len(keypoints)
            output = 0.5 * (output[:count] + flip_joints(output[count:], H36M_17))
        relative = output - output[:, self.lifter_root : self.lifter_root + 1]
        return keypoints, scores, relative

    def process(self, frame: ImageFrame) -> PoseResult:
        result = PoseResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, image_size=frame.size)
        timings = result.timings_s
        started = time.perf_counter()
        boxes = select_boxes(self.box_source.boxes(frame), self.min_box_score, self.max_people)
        timings["boxes"] = time.perf_counter() - started
        if len(boxes) == 0:
            self.box_source.observe(np.zeros((0, len(COCO_17), 2)), np.zeros((0, len(COCO_17))))
            return result
        started = time.perf_counter()
        people_2d = self.estimate_2d(frame.image, boxes)
        timings["crop"] = self._crop_done - started
        timings["2d"] = time.perf_counter() - self._crop_done
        self.box_source.observe(people_2d.image, people_2d.scores)
        height, width = frame.image.shape[:2]
        started = time.perf_counter()
        keypoints, scores, relative = self.lift(people_2d, (width, height), frame.camera)
        timings["lift"] = time.perf_counter() - started
        result.people.extend(
            place_people(
                keypoints, scores, relative, boxes, frame.camera, timings, self.mesh, depth=frame.depth
            )
        )
        return result

    def describe(self) -> dict[str, str]:
        return {
            **self._facts,
            "backend": ", ".join(f"{k}={v}" for k, v in self.pose_backend.describe().items()),
        }

    def mesh_faces(self) -> np.ndarray | None:
        return self.mesh.faces if self.mesh is not None else None

    def close(self) -> None:
        self.box_source.close()
