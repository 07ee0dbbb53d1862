"""Training the default lifter: samples from CMU motion capture, the training loop, evaluation.

Training samples are made on the fly (:class:`LifterDataGenerator`): a random mocap frame (a
share of them bent into sitting, crouching, bending or reaching poses by
:mod:`hpe_ros.training.pose_synthesis`) with randomly scaled body segments goes through forward
kinematics, a random virtual camera (2.5-6 m away, 0.5-2 m high, any yaw, small pitch/roll
jitter, intrinsics of common robot cameras) sees it, and 2D joints are projected and perturbed
like a detector's output: BlazePose-like landmarks turned into H36M-17 with the runtime's mapping
(hpe_ros.core.joints BLAZEPOSE_33 -> H36M_17), or the H36M-17 joints themselves. The target is
the H36M-17 3D pose relative to the pelvis in the camera frame (metres, x right, y down, z forward),
and the inputs are normalised exactly as at run time (:mod:`hpe_ros.pipelines.rgb.default_lifter`).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import BLAZEPOSE_33, H36M_17, convert_joints
from hpe_ros.evaluation.metrics import evaluate_poses
from hpe_ros.models.checkpoints import CheckpointError, load_strict, read_checkpoint
from hpe_ros.models.registry import create_model
from hpe_ros.pipelines.rgb.default_lifter import (
    DEFAULT_MODEL_NAME,
    NORMALISATION,
    DefaultLifter,
    lift_with_cameras,
    normalise_keypoints,
    virtual_view,
)
from hpe_ros.training import cmu_amc, cmu_mocap
from hpe_ros.training.distributed import (
    SINGLE_PROCESS,
    DistributedContext,
    gather_objects,
    save_checkpoint,
    shard_slice,
    shard_weight,
    sum_across,
    wrap_model,
)
from hpe_ros.training.pose_synthesis import FAMILY_SETS, floor_root_height, synthesise_poses

_PELVIS = H36M_17.index("pelvis")

DEFAULT_MODEL_KWARGS: dict[str, Any] = {"num_joints": 17, "in_features": 3, "hidden": 512, "num_blocks": 2}

# COCO's per-keypoint OKS sigmas (std of human annotations relative to the object scale),
# used as the shape of the detector noise per BlazePose landmark.
_OKS_SIGMAS = {
    "nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035, "right_ear": 0.035,
    "left_shoulder": 0.079, "right_shoulder": 0.079, "left_elbow": 0.072, "right_elbow": 0.072,
    "left_wrist": 0.062, "right_wrist": 0.062, "left_hip": 0.107, "right_hip": 0.107,
    "left_knee": 0.087, "right_knee": 0.087, "left_ankle": 0.089, "right_ankle": 0.089,
}  # fmt: skip
_LANDMARKS = tuple(_OKS_SIGMAS)
_LANDMARK_INDEX = np.array(BLAZEPOSE_33.indices(_LANDMARKS))
_LANDMARK_SIGMA = np.array([_OKS_SIGMAS[name] for name in _LANDMARKS])


def _mirror_names(names: tuple[str, ...]) -> list[str]:
    swap = {"left_": "right_", "right_": "left_"}
    out = []
    for name in names:
        prefix = next((p for p in swap if name.startswith(p)), None)
        out.append(swap[prefix] + name[len(prefix) :] if prefix else name)
    return out


_LANDMARK_FLIP = np.array([_LANDMARKS.index(name) for name in _mirror_names(_LANDMARKS)])
# Noise shape of H36M-17 joints given directly: the nearest COCO keypoint's sigma (the torso
# joints and the head take the hips' and the ears' spread).
_H36M_SIGMA_SOURCE = {
    "pelvis": "left_hip", "right_hip": "right_hip", "right_knee": "right_knee", "right_ankle": "right_ankle",
    "left_hip": "left_hip", "left_knee": "left_knee", "left_ankle": "left_ankle", "spine": "left_hip",
    "thorax": "left_shoulder", "neck": "nose", "head": "left_ear", "left_shoulder": "left_shoulder",
    "left_elbow": "left_elbow", "left_wrist": "left_wrist", "right_shoulder": "right_shoulder",
    "right_elbow": "right_elbow", "right_wrist": "right_wrist",
}  # fmt: skip
_H36M_SIGMA = np.array([_OKS_SIGMAS[_H36M_SIGMA_SOURCE[name]] for name in H36M_17.joint_names])

# (width, height, horizontal field of view in degrees) of common robot cameras: RealSense D4xx
# colour, Azure Kinect colour, ZED, OAK-D, webcams, 1080p.
_CAMERA_PRESETS = (
    (640, 480, 69.0),
    (1280, 720, 69.0),
    (848, 480, 69.0),
    (1280, 720, 90.0),
    (1280, 720, 100.0),
    (640, 400, 72.0),
    (640, 480, 60.0),
    (1920, 1080, 78.0),
)


# --- training data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MocapFrames:
    """All frames of a split, stacked."""

    root_position: np.ndarray  # (F, 3) metres
    rotations: np.ndarray  # (F, 38, 3)
    num_sequences: int

    @classmethod
    def from_split(cls, data_dir: str | os.PathLike[str], split: str) -> MocapFrames:
        return cls.from_sequences(cmu_mocap.read_cmu_split(data_dir, split))

    @classmethod
    def from_sequences(cls, sequences: Sequence[cmu_mocap.CmuSequence]) -> MocapFrames:
        if not sequences:
            raise ValueError("no mocap sequences")
        return cls(
            np.concatenate([s.root_position for s in sequences]),
            np.concatenate([s.rotations for s in sequences]),
            len(sequences),
        )

    @property
    def num_frames(self) -> int:
        return int(self.root_position.shape[0])


@dataclass(frozen=True)
class GeneratorConfig:
    """Ranges of the virtual capture (metres, degrees) and of the detector noise."""

    distance: tuple[float, float] = (2.5, 6.0)
    camera_height: tuple[float, float] = (0.5, 2.0)
    aim_jitter: float = 0.35  # look-at point offset from the pelvis (moves the person in the image)
    roll_std_deg: float = 3.0
    body_scale: tuple[float, float] = (0.88, 1.12)
    segment_scale_std: float = 0.04
    noise_level: tuple[float, float] = (0.0, 1.0)  # times the OKS sigma x the person's scale
    outlier_rate: float = 0.02
    drop_rate: float = 0.02
    mirror: bool = True
    cameras_per_batch: int = 8
    synthesis_rate: float = 0.0  # share of frames bent into sitting/crouching/bending/reaching poses
    direct_2d_rate: float = 0.0  # share of samples whose 2D are the H36M joints themselves, not BlazePose's
    synthesis_families: str = "standard"  # a key of pose_synthesis.FAMILY_SETS ("seated": more sitting)

    def __post_init__(self) -> None:
        if self.synthesis_families not in FAMILY_SETS:
            raise ValueError(f"synthesis_families must be one of {sorted(FAMILY_SETS)}, "
                             f"got {self.synthesis_families!r}")


#: What the shipped lifter's base was trained with (``train_default_lifter``'s default; the shipped
#: file is that base fine-tuned with the seated families, hpe_ros/data/default_lifter.md). The body scale
#: centres the CMU template (about 1.59 m tall up to the H36M head joint) on an adult stature of
#: about 1.71 m; 35 % of the frames are bent into sitting, crouching, bending or reaching poses;
#: 40 % of the samples take the H36M joints themselves as 2D (detectors other than BlazePose).
SHIPPED_CONFIG = GeneratorConfig(body_scale=(0.95, 1.20), synthesis_rate=0.35, direct_2d_rate=0.4)


@dataclass(frozen=True)
class LifterBatch:
    features: np.ndarray  # (B, 17, 3) normalised input
    keypoints: np.ndarray  # (B, 17, 2) pixels (NaN where dropped)
    scores: np.ndarray  # (B, 17)
    target: np.ndarray  # (B, 17, 3) pelvis-relative metres, in the frame the lifter predicts (the
    # person's virtual view for ray_box_v2, the camera frame for pelvis_box_v1)


# Joints whose offsets are scaled together (left/right symmetric) for body-shape variety.
_SEGMENT_GROUPS = (
    (2, 8),  # hip joints
    (3, 9),  # femurs
    (4, 10),  # tibias
    (14, 15, 16, 20, 29),  # spine
    (17, 18, 19),  # neck and head
    (21, 30),  # clavicles
    (22, 31),  # humeri
    (23, 32),  # forearms
)


def _look_at_rotations(camera_position: np.ndarray, target: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(B, 3, 3) world-to-camera rotations (rows: camera x right, y down, z forward; world y up)."""
    forward = target - camera_position
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    down = np.zeros_like(forward)
    down[:, cmu_mocap.UP_AXIS] = -1.0
    right = np.cross(down, forward)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    cos, sin = np.cos(roll)[:, None], np.sin(roll)[:, None]
    right, down = cos * right + sin * down, -sin * right + cos * down
    return np.stack([right, down, forward], axis=1)


def _project(camera: CameraModel, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (B, P, 2) of camera-frame points, and whether each lies inside the image."""
    pixels = camera.project(points)
    u, v = pixels[..., 0], pixels[..., 1]
    return pixels, (u >= 0) & (u <= camera.width - 1) & (v >= 0) & (v <= camera.height - 1)


def _camera_model(rng: np.random.Generator) -> CameraModel:
    width, height, hfov = _CAMERA_PRESETS[rng.integers(len(_CAMERA_PRESETS))]
    focal = 0.5 * width / math.tan(math.radians(hfov * rng.uniform(0.95, 1.05)) / 2)
    cx = (width - 1) / 2 + rng.normal(0, 0.01 * width)
    cy = (height - 1) / 2 + rng.normal(0, 0.01 * height)
    return CameraModel.from_intrinsics(focal, focal, cx, cy, width, height)


class LifterDataGenerator:
    """Seeded maker of (normalised 2D input, 3D target) batches from mocap frames."""

    def __init__(self, frames: MocapFrames, seed: int | Sequence[int],
                 config: GeneratorConfig = GeneratorConfig(),
                 normalisation: dict[str, Any] | None = None) -> None:
        self.frames = frames
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.normalisation = dict(NORMALISATION if normalisation is None else normalisation)

    def _segment_offsets(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(B, 38, 3) offsets in metres and (B, 1) overall body scale."""
        cfg, rng = self.config, self.rng
        factors = np.ones((batch_size, cmu_mocap.NUM_CMU_JOINTS))
        for group in _SEGMENT_GROUPS:
            factors[:, group] = np.clip(rng.normal(1.0, cfg.segment_scale_std, (batch_size, 1)), 0.85, 1.15)
        factors *= rng.uniform(*cfg.body_scale, (batch_size, 1))
        return factors[..., None] * (cmu_mocap.CMU_OFFSETS_ASF * cmu_mocap.ASF_UNIT_M), factors[:, :1]

    def sample(self, batch_size: int) -> LifterBatch:
        cfg, rng = self.config, self.rng
        index = rng.integers(self.frames.num_frames, size=batch_size)
        offsets, body_scale = self._segment_offsets(batch_size)
        root = self.frames.root_position[index].copy()
        root[:, cmu_mocap.UP_AXIS] *= body_scale[:, 0]  # keep the feet near the floor
        rotations = self.frames.rotations[index]
        synthetic = rng.random(batch_size) < cfg.synthesis_rate
        if synthetic.any():
            rotations = rotations.copy()
            rotations[synthetic] = synthesise_poses(rotations[synthetic], rng,
                                                    families=FAMILY_SETS[cfg.synthesis_families])
        pose = cmu_mocap.forward_kinematics(root, rotations, offsets)
        if synthetic.any():  # bent legs: put the feet back on the floor
            lift = np.where(synthetic, floor_root_height(pose), 0.0)
            pose = cmu_mocap.CmuPose(pose.positions - (lift[:, None, None] * np.eye(3)[cmu_mocap.UP_AXIS]),
                                     pose.rotations)
        joints_3d = cmu_mocap.cmu_to_h36m(pose)
        landmarks_3d = cmu_mocap.cmu_to_blazepose(pose)[:, _LANDMARK_INDEX]
        pelvis = joints_3d[:, _PELVIS]

        yaw = rng.uniform(0, 2 * np.pi, batch_size)
        distance = rng.uniform(*cfg.distance, batch_size)
        camera_position = pelvis.copy()
        camera_position[:, 0] += distance * np.sin(yaw)
        camera_position[:, 2] += distance * np.cos(yaw)
        camera_position[:, cmu_mocap.UP_AXIS] = rng.uniform(*cfg.camera_height, batch_size)
        aim = pelvis + rng.normal(0, cfg.aim_jitter, (batch_size, 3))
        roll = np.radians(rng.normal(0, cfg.roll_std_deg, batch_size))
        rotation = _look_at_rotations(camera_position, aim, roll)

        def to_camera(points: np.ndarray) -> np.ndarray:
            return np.einsum("bij,bkj->bki", rotation, points - camera_position[:, None])

        joints_cam, landmarks_cam = to_camera(joints_3d), to_camera(landmarks_3d)
        if cfg.mirror:
            flip = rng.random(batch_size) < 0.5
            joints_cam[flip] = joints_cam[flip][:, H36M_17.flip_permutation] * np.array([-1.0, 1.0, 1.0])
            landmarks_cam[flip] = landmarks_cam[flip][:, _LANDMARK_FLIP] * np.array([-1.0, 1.0, 1.0])

        pixels = np.empty(landmarks_cam.shape[:2] + (2,))
        inside = np.empty(landmarks_cam.shape[:2], dtype=bool)
        joint_pixels = np.empty(joints_cam.shape[:2] + (2,))
        joints_inside = np.empty(joints_cam.shape[:2], dtype=bool)
        groups = np.array_split(np.arange(batch_size), cfg.cameras_per_batch)
        cameras = [_camera_model(rng) for _ in groups]
        for group, camera in zip(groups, cameras, strict=True):
            pixels[group], inside[group] = _project(camera, landmarks_cam[group])
            joint_pixels[group], joints_inside[group] = _project(camera, joints_cam[group])
        pixels, scores = self._detector_noise(pixels, inside, _LANDMARK_SIGMA)

        blazepose = np.full((batch_size, len(BLAZEPOSE_33), 2), np.nan)
        blazepose[:, _LANDMARK_INDEX] = pixels
        blaze_scores = np.zeros((batch_size, len(BLAZEPOSE_33)))
        blaze_scores[:, _LANDMARK_INDEX] = scores
        converted = convert_joints(blazepose, BLAZEPOSE_33, H36M_17, blaze_scores)
        keypoints, joint_scores = converted.points, converted.scores
        assert joint_scores is not None  # scores were given
        direct = rng.random(batch_size) < cfg.direct_2d_rate
        if direct.any():  # 2D from a detector with Human3.6M's own joint definitions
            direct_pixels, direct_scores = self._detector_noise(joint_pixels[direct], joints_inside[direct],
                                                                _H36M_SIGMA)
            keypoints[direct], joint_scores[direct] = direct_pixels, direct_scores
        target = joints_cam - joints_cam[:, _PELVIS : _PELVIS + 1]
        if self.normalisation["name"] == NORMALISATION["name"]:  # learn in each person's virtual view
            features = np.empty(keypoints.shape[:2] + (3,), dtype=np.float32)
            for group, camera in zip(groups, cameras, strict=True):
                view = virtual_view(keypoints[group], joint_scores[group], camera)
                features[group] = normalise_keypoints(view.points, joint_scores[group]).features
                target[group] = np.einsum("nji,nkj->nki", view.rotation, target[group])
        else:
            features = normalise_keypoints(keypoints, joint_scores).features
        return LifterBatch(features, keypoints, joint_scores, target.astype(np.float32))

    def _detector_noise(self, pixels: np.ndarray, inside: np.ndarray, sigmas: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Gaussian jitter scaled per point (``sigmas``), a few outliers (low scores) and dropped points."""
        cfg, rng = self.config, self.rng
        batch_size, count = pixels.shape[:2]
        finite = np.isfinite(pixels).all(axis=-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            masked = np.where(finite[..., None], pixels, np.nan)
            extent = np.nanmax(masked, axis=1) - np.nanmin(masked, axis=1)
        extent = np.nan_to_num(extent, nan=1.0)
        person_scale = np.sqrt(0.55 * np.prod(extent, axis=-1)).clip(min=1.0)  # ~ sqrt(segmented area)
        level = rng.uniform(*cfg.noise_level, (batch_size, 1))
        sigma = level * sigmas[None] * person_scale[:, None]
        noisy = pixels + rng.normal(size=pixels.shape) * sigma[..., None]
        scores = rng.uniform(0.55, 1.0, (batch_size, count)) - 0.2 * level

        outlier = rng.random((batch_size, count)) < cfg.outlier_rate
        radius = rng.uniform(0.1, 0.4, (batch_size, count)) * extent.max(axis=-1)[:, None]
        angle = rng.uniform(0, 2 * np.pi, (batch_size, count))
        jump = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * radius[..., None]
        noisy = np.where(outlier[..., None], noisy + jump, noisy)
        scores = np.where(outlier, rng.uniform(0.05, 0.5, (batch_size, count)), scores)

        dropped = (rng.random((batch_size, count)) < cfg.drop_rate) | ~inside | ~finite
        noisy[dropped] = np.nan
        scores = np.where(dropped, 0.0, scores)
        return noisy, scores


def _loss(model: nn.Module, batch: LifterBatch) -> torch.Tensor:
    output = model(torch.from_numpy(batch.features))
    output = output - output[:, _PELVIS : _PELVIS + 1]
    return torch.linalg.vector_norm(output - torch.from_numpy(batch.target), dim=-1).mean()


#: Where the cosine learning-rate decay of :func:`train_lifter` ends, as a share of the starting rate.
DEFAULT_FINAL_LR_FRACTION = 0.02


def cosine_lr_factor(step: int, steps: int, final_fraction: float = DEFAULT_FINAL_LR_FRACTION) -> float:
    """The learning rate of ``step`` over the starting rate: half a cosine from 1 down to
    ``final_fraction`` at ``steps``, held there afterwards."""
    cosine = 0.5 * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1)))
    return final_fraction + (1 - final_fraction) * cosine


@dataclass
class TrainingResult:
    model: nn.Module
    losses: list[float]  # mean MPJPE (m) of every logged window of steps
    seconds: float


def train_lifter(
    frames: MocapFrames,
    steps: int,
    seed: int,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    model_name: str = DEFAULT_MODEL_NAME,
    model_kwargs: dict[str, Any] | None = None,
    config: GeneratorConfig = GeneratorConfig(),
    log_every: int = 100,
    progress: bool = False,
    num_threads: int | None = 1,
    normalisation: dict[str, Any] | None = None,
    checkpoint: TrainingCheckpoint | None = None,
    distributed: DistributedContext = SINGLE_PROCESS,
    log: Callable[[str], None] | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
    final_lr_fraction: float = DEFAULT_FINAL_LR_FRACTION,
    generator_seed: int | None = None,
) -> TrainingResult:
    """Adam with a cosine learning-rate decay on freshly generated batches (seeded).

    ``num_threads`` limits torch's intra-op threads while training (small matrices: one thread
    is fastest, and several threads thrash on a shared machine); None leaves the setting alone.
    ``checkpoint``: where and how often to save the whole run (model, optimiser, schedule, every
    process's generator state), and whether to resume from it. Under torchrun (``distributed``)
    each process generates its slice of every batch from its own seeded generator; DDP averages
    the gradients. A resumed run continues exactly as the uninterrupted one (same process count).
    ``log`` receives the progress lines (default ``print`` when ``progress``), after any checkpoint
    of that step. ``init_state``: start from these weights (fine-tuning) instead of a fresh network.
    The rate decays from ``learning_rate`` to ``final_lr_fraction`` of it (:func:`cosine_lr_factor`).
    ``generator_seed``: the sample generator's seed when it should differ from ``seed`` (which
    then seeds only torch: initial weights and dropout).
    """
    previous_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        return _train(
            frames, steps, seed, batch_size, learning_rate, model_name, model_kwargs, config, log_every,
            normalisation, checkpoint, distributed, log or (_print_now if progress else None), init_state,
            final_lr_fraction, seed if generator_seed is None else generator_seed,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _print_now(line: str) -> None:
    print(line, flush=True)


def _train(
    frames: MocapFrames,
    steps: int,
    seed: int,
    batch_size: int,
    learning_rate: float,
    model_name: str,
    model_kwargs: dict[str, Any] | None,
    config: GeneratorConfig,
    log_every: int,
    normalisation: dict[str, Any] | None,
    checkpoint: TrainingCheckpoint | None,
    distributed: DistributedContext,
    log: Callable[[str], None] | None,
    init_state: dict[str, torch.Tensor] | None = None,
    final_lr_fraction: float = DEFAULT_FINAL_LR_FRACTION,
    generator_seed: int | None = None,
) -> TrainingResult:
    if not 0.0 <= final_lr_fraction <= 1.0:
        raise ValueError(f"final_lr_fraction must lie in [0, 1], got {final_lr_fraction}")
    if checkpoint is not None and checkpoint.every % log_every:
        raise ValueError(f"checkpoint every {checkpoint.every} steps: must be a multiple of log_every "
                         f"({log_every})")
    torch.manual_seed(seed)
    model = create_model(model_name, **(DEFAULT_MODEL_KWARGS if model_kwargs is None else model_kwargs))
    if init_state is not None:
        load_strict(model, init_state)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: cosine_lr_factor(step, steps, final_lr_fraction)
    )
    # one process keeps the historical seeds; under torchrun each rank draws its own slice and its
    # own dropout masks
    data_seed = seed if generator_seed is None else generator_seed
    rank_seed: int | list[int] = [data_seed, distributed.rank] if distributed.is_distributed else data_seed
    if distributed.is_distributed:
        torch.manual_seed(seed + 7919 * (distributed.rank + 1))
    generator = LifterDataGenerator(frames, rank_seed, config, normalisation)
    losses: list[float] = []
    window: list[float] = []
    first_step, seconds_before = 0, 0.0
    if checkpoint is not None and checkpoint.resume:
        first_step, losses, seconds_before = _restore(checkpoint.path, model, optimiser, schedule, generator,
                                                      distributed)
    trained = wrap_model(model, distributed)
    part = shard_slice(batch_size, distributed)
    scale = shard_weight(batch_size, distributed)
    start = time.perf_counter()
    for step in range(first_step, steps):
        loss = _loss(trained, generator.sample(part.stop - part.start))
        rate = float(optimiser.param_groups[0]["lr"])
        optimiser.zero_grad()
        (loss * scale).backward()
        optimiser.step()
        schedule.step()
        window.append(loss.item())
        if len(window) == log_every or step == steps - 1:
            if distributed.is_distributed:  # the global batch's mean: shards weighted by their size
                total, count = sum_across([sum(window) * (part.stop - part.start),
                                           len(window) * (part.stop - part.start)], distributed)
                losses.append(total / count)
            else:
                losses.append(float(np.mean(window)))
            window = []
            if checkpoint is not None and ((step + 1) % checkpoint.every == 0 or step == steps - 1):
                payload = {"model": model.state_dict(), "optimizer": optimiser.state_dict(),
                           "schedule": schedule.state_dict(), "step": step + 1, "losses": list(losses),
                           "seconds": seconds_before + time.perf_counter() - start,
                           "generators": gather_objects(_random_states(generator), distributed)}
                save_checkpoint(checkpoint.path, payload, distributed)
            if log is not None and distributed.is_main:
                elapsed = seconds_before + time.perf_counter() - start
                log(f"step {step + 1}/{steps}: MPJPE {1000 * losses[-1]:.1f} mm, lr {rate:.4g} "
                    f"({elapsed:.0f} s)")
    model.eval()
    return TrainingResult(model, losses, seconds_before + time.perf_counter() - start)


@dataclass(frozen=True)
class TrainingCheckpoint:
    """Where :func:`train_lifter` saves its run every ``every`` steps (and at the end), and whether
    it starts by resuming from that file."""

    path: Path
    every: int = 1000
    resume: bool = False


def _random_states(generator: LifterDataGenerator) -> dict[str, Any]:
    return {"numpy": generator.rng.bit_generator.state, "torch": torch.get_rng_state()}


def _restore(path: Path, model: nn.Module, optimiser: torch.optim.Optimizer,
             schedule: torch.optim.lr_scheduler.LRScheduler, generator: LifterDataGenerator,
             distributed: DistributedContext) -> tuple[int, list[float], float]:
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or not {"model", "optimizer", "schedule", "step"} <= set(payload):
        raise CheckpointError(f"{path} is not a default-lifter training checkpoint")
    if len(payload["generators"]) != distributed.world_size:
        raise CheckpointError(f"{path} was written by {len(payload['generators'])} processes; resume it "
                              f"with as many (this run has {distributed.world_size})")
    load_strict(model, payload["model"])
    optimiser.load_state_dict(payload["optimizer"])
    schedule.load_state_dict(payload["schedule"])
    states = payload["generators"][distributed.rank]
    generator.rng.bit_generator.state = states["numpy"]
    torch.set_rng_state(states["torch"])  # dropout
    return int(payload["step"]), list(payload["losses"]), float(payload["seconds"])


def evaluate_lifter_on_mocap(
    lifter: DefaultLifter, frames: MocapFrames, seed: int, num_samples: int = 4096, noisy: bool = True
) -> dict[str, float]:
    """MPJPE / P-MPJPE (mm) on seeded virtual views of ``frames`` (with or without detector noise)."""
    clean = GeneratorConfig(noise_level=(0.0, 0.0), outlier_rate=0.0, drop_rate=0.0)
    config = GeneratorConfig() if noisy else clean
    batch = LifterDataGenerator(frames, seed, config, lifter.normalisation).sample(num_samples)
    report = evaluate_poses(lifter.lift_features(batch.features), batch.target, center_target=False)
    return {"mpjpe_mm": float(report.overall.mpjpe_mm), "p_mpjpe_mm": float(report.overall.p_mpjpe_mm)}


def evaluate_lifter_on_h36m_frames(
    lifter: DefaultLifter, npz_path: str | os.PathLike[str]
) -> dict[str, float]:
    """MPJPE / P-MPJPE (mm) on mmpose's Human3.6M test frames: ground-truth 2D ``part`` -> lifter -> ``S``.

    The 2D joints follow Human3.6M's definitions, not BlazePose's, so this measures the lifter
    with a slight change of joint definitions as well as of people and cameras. Each frame's
    camera comes from the ``cameras.json`` beside the file.
    """
    from hpe_ros.datasets.h36m_frames import load_h36m_frames  # noqa: PLC0415 (evaluation only)

    frames = load_h36m_frames(Path(npz_path).parent)
    samples = frames.samples
    predicted = lift_with_cameras(lifter, samples.keypoints_2d, samples.scores_2d,
                                  [camera.camera for camera in frames.cameras])
    report = evaluate_poses(predicted, samples.joints_3d, center_target=True)
    return {"mpjpe_mm": float(report.overall.mpjpe_mm), "p_mpjpe_mm": float(report.overall.p_mpjpe_mm)}


@dataclass
class DefaultLifterReport:
    out_path: str
    steps: int
    seed: int
    seconds: float
    train_frames: int
    test_frames: int
    final_train_mpjpe_mm: float
    metrics: dict[str, float] = field(default_factory=dict)


def _cmu_dir(data_dir: str | os.PathLike[str]) -> Path:
    data_dir = Path(data_dir)
    return data_dir / "cmu_mocap" if (data_dir / "cmu_mocap").is_dir() else data_dir


def train_default_lifter(
    data_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    steps: int = 25000,
    seed: int = 0,
    model_kwargs: dict[str, Any] | None = None,
    batch_size: int = 256,
    progress: bool = True,
    config: GeneratorConfig = SHIPPED_CONFIG,
    extra_data: str | os.PathLike[str] | None = None,
    extra_stride: int = 4,
    checkpoint: TrainingCheckpoint | None = None,
    distributed: DistributedContext = SINGLE_PROCESS,
    learning_rate: float = 1e-3,
    init_from: str | os.PathLike[str] | None = None,
    final_lr_fraction: float = DEFAULT_FINAL_LR_FRACTION,
    generator_seed: int | None = None,
) -> DefaultLifterReport | None:
    """Train the default lifter on ``data_dir`` (a cmu_mocap folder or its parent) and save it.

    ``extra_data``: a folder of more CMU trials added to the train split, either converted
    ``.npz`` files (``scripts/convert_cmu_amc.py``) or ASF/AMC files read at ``extra_stride``
    (:func:`hpe_ros.training.cmu_amc.read_extra_sequences`). The file holds plain tensors and
    values only (loadable with ``weights_only=True``). Metrics: noisy and clean virtual views of the
    test split, and the Human3.6M frames when ``h36m_frames/test_h36m_body3d.npz`` lies beside the
    cmu_mocap folder. ``checkpoint`` and ``distributed``: see :func:`train_lifter`; under torchrun
    the main process evaluates and writes ``out_path`` and returns the report, the others None.
    ``init_from``: a default-lifter file to fine-tune (same network), recorded in the new file.
    ``final_lr_fraction`` and ``generator_seed``: see :func:`train_lifter`.
    """
    cmu_dir = _cmu_dir(data_dir)
    train_sequences = cmu_mocap.read_cmu_split(cmu_dir, "train")
    extra = [] if extra_data is None else cmu_amc.read_extra_sequences(extra_data, extra_stride)
    train = MocapFrames.from_sequences([*train_sequences, *extra])
    base_frames = sum(s.num_frames for s in train_sequences)
    test = MocapFrames.from_split(cmu_dir, "test")
    kwargs = dict(DEFAULT_MODEL_KWARGS if model_kwargs is None else model_kwargs)
    start = _fine_tuning_start(init_from, kwargs) if init_from is not None else None
    result = train_lifter(train, steps, seed, batch_size, learning_rate, model_kwargs=kwargs, config=config,
                          progress=progress, checkpoint=checkpoint, distributed=distributed,
                          init_state=None if start is None else start[0], final_lr_fraction=final_lr_fraction,
                          generator_seed=generator_seed)
    if not distributed.is_main:
        return None
    lifter = DefaultLifter(result.model)
    metrics: dict[str, float] = {}
    for noisy in (True, False):
        for key, value in evaluate_lifter_on_mocap(lifter, test, seed + 1, noisy=noisy).items():
            metrics[f"cmu_test_{'noisy' if noisy else 'clean'}_{key}"] = value
    h36m_npz = cmu_dir.parent / "h36m_frames" / "test_h36m_body3d.npz"
    if h36m_npz.is_file():
        h36m_metrics = evaluate_lifter_on_h36m_frames(lifter, h36m_npz)
        metrics.update({f"h36m_frames_gt2d_{key}": value for key, value in h36m_metrics.items()})
    final = 1000.0 * result.losses[-1]
    payload = {
        "state_dict": {k: v.detach().clone() for k, v in result.model.state_dict().items()},
        "model_name": DEFAULT_MODEL_NAME,
        "model_kwargs": kwargs,
        "normalisation": dict(NORMALISATION),
        "joint_set": H36M_17.name,
        "input": ("H36M-17 pixels (from BlazePose landmarks via hpe_ros.core.joints, or a detector's H36M"
                  " joints) and scores, with the camera intrinsics (guessed when unknown)"),
        "output": "pelvis-relative H36M-17 joints, camera frame (x right, y down, z forward), metres",
        "trained_on": (
            f"CMU motion capture (DMGNN expmap release), train split: {len(train_sequences)} sequences"
            + (f", plus {len(extra)} CMU ASF/AMC trials ({train.num_frames - base_frames} frames)"
               if extra else "")
            + f"; {train.num_sequences} sequences, {train.num_frames} frames, {config.synthesis_rate:.0%}"
            " bent into sitting/crouching/bending/reaching poses; random virtual cameras, each person in"
            f" its virtual view; BlazePose-like and H36M-joint 2D ({config.direct_2d_rate:.0%}) with"
            " detector-like noise"
        ),
        "extra_trials": [s.name for s in extra],
        "generator": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "seed": int(seed),
        "generator_seed": int(seed if generator_seed is None else generator_seed),
        "steps": int(steps),
        "batch_size": int(batch_size),
        "train_seconds": float(result.seconds),
        "learning_rate": float(learning_rate),
        "final_lr_fraction": float(final_lr_fraction),
        "metrics": {"final_train_mpjpe_mm": final, **metrics},
    }
    if start is not None:
        payload["fine_tuned_from"] = start[1]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, out_path)
    return DefaultLifterReport(
        str(out_path), steps, seed, result.seconds, train.num_frames, test.num_frames, final, metrics
    )


def _fine_tuning_start(path: str | os.PathLike[str], model_kwargs: dict[str, Any]
                       ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The weights of a default-lifter file to fine-tune, and what the new file records about it."""
    path = Path(path)
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not a default-lifter file (no 'state_dict')")
    if payload.get("model_name") != DEFAULT_MODEL_NAME or payload.get("model_kwargs") != model_kwargs:
        raise CheckpointError(f"{path}: {payload.get('model_name')} {payload.get('model_kwargs')} is not the "
                              f"network being trained ({DEFAULT_MODEL_NAME} {model_kwargs})")
    record = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
              "steps": int(payload.get("steps", 0)), "generator": payload.get("generator", {})}
    return payload["state_dict"], record


def report_dict(report: DefaultLifterReport) -> dict[str, Any]:
    return asdict(report)
