"""Context-Aware PoseFormer's evaluation protocols: ``capf_h36m`` and ``capf_mpi_inf_3dhp``.

The official test procedure (:mod:`~hpe_ros.evaluation.protocols.capf_steps`): 2 m root boxes,
192x256 crops, screen-normalised and crop keypoints, flip test, HRNet features, the lifter, and the
metrics of the official scripts: Human3.6M MPJPE and P-MPJPE averaged per action (both trials of an
action pooled, frame-weighted) and then over the actions; MPI-INF-3DHP PCK (< 150 mm) and AUC
(thresholds 0, 5, ..., 150 mm) over its 14 scored joints, MPJPE over all 17, with the predicted root
set to 0 (``mpii_compute_3d_pck.m`` / ``mpii_evaluate_errors.m``).

Human3.6M runs on the frames of mmpose's layout (``--h36m-frames``: ``test_h36m_body3d.npz`` with
camera-frame 3D and the dataset's 2D, ``cameras.json``, the frames): the ground-truth-2D variant of
the protocol. The official CPN-2D evaluation needs the 2D detections for the same frames, which
that layout does not carry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hpe_ros.datasets.samples import normalize_screen
from hpe_ros.evaluation.protocols import (
    EvalInputs,
    ProtocolResult,
    Published,
    Row,
    Table,
    declare_input,
    register_protocol,
)
from hpe_ros.evaluation.protocols.capf_steps import (
    CROP_SIZE,
    JPEG_QUALITY,
    Intrinsics,
    crop_frame,
    crop_matrix,
    flip_inputs,
    normalize_image,
    root_box,
    root_relative_target,
    to_crop,
    unflip_output,
)

H36M_FRAMES = declare_input(
    "h36m_frames", "folder with test_h36m_body3d.npz, cameras.json and the frames (mmpose's layout)"
)
MPI_TEST = declare_input(
    "mpi_inf_3dhp", "MPI-INF-3DHP test set folder (TS1..TS6, each annot_data.mat and imageSequence/)"
)
CAPF_CHECKPOINT = declare_input(
    "capf_checkpoint",
    "the authors' CA-PF checkpoint with its backbone (best_epoch_hrnet_32.bin, "
    "HRNet_32_64_no_refine_24_3214.pth, ...)",
)

#: the official MPI-INF-3DHP test intrinsics: studio camera 8 for TS1-4, the outdoor camera for TS5-6
MPI_TEST_INTRINSICS = {
    "studio": Intrinsics(1500.172, 1500.837, 1017.387, 1043.032),
    "outdoor": Intrinsics(1683.98345952, 1672.59370772, 939.85754016, 560.140743168),
}
MPI_OUTDOOR = ("TS5", "TS6")


@dataclass(frozen=True)
class CapfSample:
    """One test frame: image, 2D keypoints (pixels), camera-frame joints (mm), intrinsics, group."""

    image_path: str
    keypoints: np.ndarray  # (J, 2) image pixels
    joints_mm: np.ndarray  # (J, 3) camera frame
    intrinsics: Intrinsics
    image_size: tuple[int, int]  # width, height
    group: str  # Human3.6M action, MPI-INF-3DHP sequence
    activity: str = ""  # MPI-INF-3DHP activity


@dataclass(frozen=True)
class CapfInputs:
    """The network inputs of a batch (the first N rows; with flip test the mirrored N after)."""

    crops_bgr: np.ndarray  # (N, H, W, 3) uint8
    images: np.ndarray  # (N, 3, H, W) float32, normalised
    screen: np.ndarray  # (N, J, 2) float32
    crop: np.ndarray  # (N, J, 2) float32


def prepare(samples: Sequence[CapfSample], root: int, jpeg_quality: int | None = None,
            read: Callable[[str], np.ndarray] | None = None) -> CapfInputs:
    """Crops and keypoints of ``samples`` as the official pre-processing makes them."""
    read = read or _read_bgr
    crops, screens, crop_points = [], [], []
    for sample in samples:
        center, scale = root_box(sample.joints_mm[root], sample.intrinsics)
        matrix = crop_matrix(center, scale)
        crops.append(crop_frame(read(sample.image_path), matrix, CROP_SIZE, jpeg_quality))
        crop_points.append(to_crop(sample.keypoints, matrix))
        screens.append(normalize_screen(sample.keypoints, np.asarray(sample.image_size)))
    stacked = np.stack(crops)
    return CapfInputs(stacked, normalize_image(stacked), np.stack(screens).astype(np.float32),
                      np.stack(crop_points))


def _read_bgr(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise FileNotFoundError(f"cannot read the frame {path}")
    return image


def lift(lifter, backbone, inputs: CapfInputs, permutation: np.ndarray, flip_test: bool,
         device: str = "cpu") -> np.ndarray:  # noqa: ANN001 - torch modules, imported lazily
    """(N, J, 3) float64 estimates in metres; with ``flip_test`` the mean with the mirrored estimate."""
    import torch

    def run(images: np.ndarray, screen: np.ndarray, crop: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            maps = backbone.forward_features(torch.from_numpy(images).to(device)).maps
            out = lifter(torch.from_numpy(screen).to(device), list(maps), torch.from_numpy(crop).to(device))
        return out.double().cpu().numpy()

    plain = run(inputs.images, inputs.screen, inputs.crop)
    if not flip_test:
        return plain
    mirrored = run(*flip_inputs(inputs.images, inputs.screen, inputs.crop, permutation))
    return (plain + unflip_output(mirrored, permutation)) / 2


def build_models(kind: str, backbone_name: str, checkpoint: Path | None, allow_random: bool):  # noqa: ANN201
    """(lifter, HRNet backbone) in eval mode: the authors' weights, or seeded random ones."""
    import torch

    from hpe_ros.models.checkpoints import load_strict
    from hpe_ros.models.convert_hrnet import load_hrnet_checkpoint
    from hpe_ros.models.convert_lifters import load_capf_checkpoint
    from hpe_ros.models.registry import create_model

    width = {"hrnet_32": 32, "hrnet_48": 48}.get(backbone_name)
    if width is None:
        raise ValueError(f"CA-PF backbone {backbone_name!r}: hrnet_32 or hrnet_48 (no CPN network here)")
    if checkpoint is None and not allow_random:
        raise ValueError(f"needs {CAPF_CHECKPOINT.option} ({CAPF_CHECKPOINT.help}), "
                         "or --random-weights to check the protocol alone")
    torch.manual_seed(0)
    lifter = create_model(f"capf_hrnet{width}") if kind == "h36m" else create_model(
        "capf_mpi", backbone=backbone_name)
    backbone = create_model(f"hrnet_w{width}")
    if checkpoint is not None:
        weights = load_capf_checkpoint(checkpoint)
        load_strict(lifter, weights.lifter)
        load_hrnet_checkpoint(backbone, weights.backbone)
    return lifter.eval(), backbone.eval()


def predict(samples: Sequence[CapfSample], kind: str, inputs: EvalInputs, root: int,
            permutation: np.ndarray, jpeg_quality: int | None) -> np.ndarray:
    """Estimates (N, J, 3) in metres for all ``samples``, batch by batch."""
    backbone_name = inputs.options.get("capf_backbone", "hrnet_32")
    lifter, backbone = build_models(kind, backbone_name, inputs.get(CAPF_CHECKPOINT),
                                    inputs.allow_random_weights)
    lifter.to(inputs.device)
    backbone.to(inputs.device)
    flip_test = inputs.options.get("flip_test", "true").lower() not in ("0", "false", "no")
    out = []
    for start in range(0, len(samples), inputs.batch_size):
        batch = prepare(samples[start : start + inputs.batch_size], root, jpeg_quality)
        out.append(lift(lifter, backbone, batch, permutation, flip_test, inputs.device))
    return np.concatenate(out)


# ---- Human3.6M -------------------------------------------------------------------------------


def h36m_frame_samples(folder: Path) -> list[CapfSample]:
    """The frames of mmpose's layout with the dataset's 2D keypoints (the ground-truth-2D variant)."""
    from hpe_ros.datasets.h36m_frames import load_h36m_frames
    from hpe_ros.evaluation.metrics import h36m_action_name

    frames = load_h36m_frames(folder)
    samples = frames.samples
    paths = samples.image_paths
    if paths is None:
        raise ValueError(f"{folder}: the frames carry no image paths")
    out = []
    for i in range(len(frames)):
        camera = frames.cameras[i].camera
        out.append(CapfSample(
            str(paths[i]), samples.keypoints_2d[i], samples.joints_3d[i] * 1000.0,
            Intrinsics(camera.fx, camera.fy, camera.cx, camera.cy), (camera.width, camera.height),
            h36m_action_name(str(samples.actions[i])),
        ))
    return out


def h36m_tables(predicted: np.ndarray, joints_mm: np.ndarray, actions: Sequence[str]) -> tuple[Table, ...]:
    """MPJPE and P-MPJPE (mm) of estimates (N, 17, 3, metres) against camera-frame joints (mm), per
    action and their mean over the actions, as the official script."""
    from hpe_ros.core.joints import H36M_17
    from hpe_ros.evaluation.metrics import evaluate_poses

    target = root_relative_target(np.asarray(joints_mm) / 1000.0, H36M_17.root)
    report = evaluate_poses(predicted, target, actions=list(actions), root_index=H36M_17.root)
    mean = report.action_mean or report.overall
    actions = list(report.per_action)
    label = f"measured ({len(target)} frames)"
    summary = Table(H36M_SUMMARY, ("MPJPE", "P-MPJPE"),
                    (Row(label, {"MPJPE": mean.mpjpe_mm, "P-MPJPE": mean.p_mpjpe_mm}),))
    per_action = Table(
        "Human3.6M per action (mm)", (*actions, "Avg"),
        (Row("MPJPE", {**{a: m.mpjpe_mm for a, m in report.per_action.items()}, "Avg": mean.mpjpe_mm}),
         Row("P-MPJPE", {**{a: m.p_mpjpe_mm for a, m in report.per_action.items()}, "Avg": mean.p_mpjpe_mm})),
    )
    return summary, per_action


H36M_SUMMARY = "Human3.6M, protocols #1 / #2 (mm)"
H36M_LAYOUTS = (Table(H36M_SUMMARY, ("MPJPE", "P-MPJPE")),)
#: the README's number (commits cb2690e..ecf441a, 2023-09-17 to 2024-07-21; the README that
#: replaced it, with one checkpoint per backbone, states none): CPN 2D, HRNet-32 features
H36M_PUBLISHED = (
    Published(H36M_SUMMARY, "CA-PF HRNet-32 (CPN 2D)", {"MPJPE": 41.3},
              "official README of 2023-09 to 2024-07",
              checkpoint="best_epoch.bin (HRNet-32, that README's link)"),
    Published(H36M_SUMMARY, "CA-PF, as a later paper quotes it", {"MPJPE": 41.4, "P-MPJPE": 33.5},
              "PandaPose (Zheng et al.), Table 1, row 'CA-PF [55]' (NeurIPS'23, 1 frame, 14.1M "
              "parameters; no backbone named, PandaPose itself follows CA-PF with HRNet-32)",
              checkpoint="best_epoch.bin (HRNet-32, the README's link)"),
)
H36M_NOTES = (
    "the per-action numbers of the paper's Human3.6M table (arXiv 2311.03312) are not printed: the "
    "table could not be read when these rows were added (only the paper's first page was "
    "reachable); its averages are printed as PandaPose quotes them (41.4 mm there, 41.3 mm in the "
    "official README)",
)


@register_protocol(
    "capf_h36m",
    paper="Context-Aware PoseFormer (Zhao et al., NeurIPS 2023)",
    dataset="Human3.6M",
    inputs=(H36M_FRAMES,),
    published=H36M_PUBLISHED,
    layouts=H36M_LAYOUTS,
    published_notes=H36M_NOTES,
)
def capf_h36m(inputs: EvalInputs) -> ProtocolResult:
    """CA-PF on Human3.6M frames: official 2 m root crops, flip test, MPJPE / P-MPJPE per action."""
    from hpe_ros.core.joints import H36M_17

    samples = h36m_frame_samples(inputs.path(H36M_FRAMES))[: inputs.limit]
    predicted = predict(samples, "h36m", inputs, H36M_17.root, H36M_17.flip_permutation, None)
    notes = [
        f"{len(samples)} frames, the dataset's 2D keypoints (the published number uses CPN "
        "detections on all S9/S11 frames)",
        f"backbone {inputs.options.get('capf_backbone', 'hrnet_32')}",
    ]
    tables = h36m_tables(predicted, np.stack([s.joints_mm for s in samples]), [s.group for s in samples])
    return ProtocolResult(tables, tuple(notes))


CAPF_LABELS = declare_input(
    "capf_labels", "CA-PF's pre-processed h36m_validation.pkl (official labels, CPN 2D) with --h36m-images"
)
H36M_IMAGES = declare_input("h36m_images",
                            "the H36M-Toolbox images/ folder (s_09_act_02_subact_01_ca_01/...)")


def prepare_labels(labels: Sequence, images: Path) -> CapfInputs:  # Sequence[CapfLabel]
    """Network inputs from the official labels: their box, screen and crop keypoints as stored."""
    crops = []
    for label in labels:
        matrix = crop_matrix(label.center, label.scale)
        crops.append(crop_frame(_read_bgr(str(images / label.image)), matrix, CROP_SIZE))
    stacked = np.stack(crops)
    return CapfInputs(stacked, normalize_image(stacked),
                      np.stack([label.screen_2d for label in labels]).astype(np.float32),
                      np.stack([label.crop_2d for label in labels]).astype(np.float32))


@register_protocol(
    "capf_h36m_labels",
    paper="Context-Aware PoseFormer (Zhao et al., NeurIPS 2023)",
    dataset="Human3.6M",
    inputs=(CAPF_LABELS, H36M_IMAGES),
    published=H36M_PUBLISHED,
    layouts=H36M_LAYOUTS,
    published_notes=H36M_NOTES,
)
def capf_h36m_labels(inputs: EvalInputs) -> ProtocolResult:
    """CA-PF on its own pre-processed labels and the H36M-Toolbox frames: the published run.

    Settings: ``capf_2d`` (``cpn``, the published input, or ``gt``), ``capf_backbone``, ``flip_test``."""
    from hpe_ros.core.joints import H36M_17
    from hpe_ros.datasets.capf_labels import load_capf_labels

    keypoints = inputs.options.get("capf_2d", "cpn")
    labels = load_capf_labels(inputs.path(CAPF_LABELS), keypoints)[: inputs.limit]
    images = inputs.path(H36M_IMAGES)
    lifter, backbone = build_models("h36m", inputs.options.get("capf_backbone", "hrnet_32"),
                                    inputs.get(CAPF_CHECKPOINT), inputs.allow_random_weights)
    lifter.to(inputs.device)
    backbone.to(inputs.device)
    flip_test = inputs.options.get("flip_test", "true").lower() not in ("0", "false", "no")
    predicted = np.concatenate([
        lift(lifter, backbone, prepare_labels(labels[start : start + inputs.batch_size], images),
             H36M_17.flip_permutation, flip_test, inputs.device)
        for start in range(0, len(labels), inputs.batch_size)
    ])
    joints_mm = np.stack([label.joints_3d for label in labels]) * 1000.0
    notes = (f"{len(labels)} frames of the official labels, {keypoints.upper()} 2D",
             f"backbone {inputs.options.get('capf_backbone', 'hrnet_32')}")
    return ProtocolResult(h36m_tables(predicted, joints_mm, [label.action for label in labels]), notes)


# ---- MPI-INF-3DHP ----------------------------------------------------------------------------


def mpi_samples(folder: Path, sequences: Sequence[str] | None = None) -> list[CapfSample]:
    """The valid frames of the test sequences (``univ_annot3``, ``annot2``), in file order."""
    from hpe_ros.datasets.mpi_inf_3dhp import (
        MPI_TEST_IMAGE_SIZE,
        MPI_TEST_SEQUENCES,
        load_mpi_inf_3dhp_sequence,
    )

    out = []
    for sequence in sequences or MPI_TEST_SEQUENCES:
        path = folder / sequence / "annot_data.mat"
        if not path.is_file():
            continue
        loaded = load_mpi_inf_3dhp_sequence(path, sequence)
        intrinsics = MPI_TEST_INTRINSICS["outdoor" if sequence in MPI_OUTDOOR else "studio"]
        size = MPI_TEST_IMAGE_SIZE[sequence]
        paths = loaded.image_paths
        if paths is None:
            raise ValueError(f"{path}: sequence {sequence} carries no image paths")
        out += [
            CapfSample(str(paths[i]), loaded.keypoints_2d[i], loaded.joints_3d[i] * 1000.0,
                       intrinsics, size, sequence, str(loaded.actions[i]))
            for i in range(len(loaded))
        ]
    if not out:
        raise FileNotFoundError(f"no TS*/annot_data.mat under {folder}")
    return out


MPI_SUMMARY = "MPI-INF-3DHP (PCK %, AUC %, MPJPE mm)"
MPI_COLUMNS = ("PCK", "AUC", "MPJPE")
_CHECKPOINT_NAME = "official checkpoint's file name (run_3dhp.py's save_model)"
#: The released checkpoints are named by ``save_model`` of the official ``run_3dhp.py`` after the
#: epoch and the test MPJPE x 100 (``%d``: truncated to 0.01 mm) of the saving epoch's test pass,
#: which runs this protocol (flip test, all 2929 valid frames, predicted root set to 0).
MPI_PUBLISHED = (
    Published(MPI_SUMMARY, "CA-PF HRNet-32 (GT 2D)", {"MPJPE": 32.14}, _CHECKPOINT_NAME,
              checkpoint="HRNet_32_64_no_refine_24_3214.pth"),
    Published(MPI_SUMMARY, "CA-PF HRNet-48 (GT 2D)", {"MPJPE": 31.25}, _CHECKPOINT_NAME,
              checkpoint="HRNet_48_96_no_refine_45_3125.pth"),
    Published(MPI_SUMMARY, "CA-PF, as a later paper quotes it", {"PCK": 98.0, "AUC": 75.4, "MPJPE": 32.7},
              "PandaPose (Zheng et al.), Table 2, row 'CA-PF [55]', full test set (no backbone "
              "named)", checkpoint="one of the two above (the row names no backbone)"),
)
MPI_NOTES = (
    "the paper's own MPI-INF-3DHP table (arXiv 2311.03312) could not be read when these rows were "
    "added (only the paper's first page was reachable) and the official README gives no PCK or "
    "AUC: they are printed as PandaPose quotes them, without the backbone; the repository's "
    "3dhp_test/mpii_3dhp_evaluation_sequencewise.xlsx is dated March 2022, before CA-PF, and is "
    "not its result",
    "the MPJPE rows are the checkpoints' own test MPJPE as their file names record it, not the "
    "paper's table",
)


def mpi_tables(predicted: np.ndarray, samples: Sequence[CapfSample]) -> tuple[Table, ...]:
    """PCK / AUC over the 14 scored joints and MPJPE over 17: all frames, per sequence, per activity."""
    from hpe_ros.datasets.mpi_inf_3dhp import MPI_PCK_JOINTS, MPI_ROOT_INDEX
    from hpe_ros.evaluation.metrics import evaluate_poses

    target = root_relative_target(np.stack([s.joints_mm for s in samples]) / 1000.0, MPI_ROOT_INDEX)
    predicted = np.array(predicted, np.float64)
    predicted[:, MPI_ROOT_INDEX] = 0.0  # the official script zeroes the predicted root

    def rows(groups: Sequence[str]) -> list[Row]:
        report = evaluate_poses(predicted, target, actions=groups, root_index=MPI_ROOT_INDEX,
                                center_target=False, pck_joints=MPI_PCK_JOINTS, merge_trials=False)
        return [Row(name, {"PCK": m.pck_percent, "AUC": m.auc_percent, "MPJPE": m.mpjpe_mm})
                for name, m in report.per_action.items()]

    columns = MPI_COLUMNS
    overall = rows(["All"] * len(samples))
    return (
        Table(MPI_SUMMARY, columns, (Row(f"measured ({len(samples)} frames)", overall[0].values),)),
        Table("MPI-INF-3DHP per sequence", columns, tuple(rows([s.group for s in samples]))),
        Table("MPI-INF-3DHP per activity", columns, tuple(rows([s.activity for s in samples]))),
    )


@register_protocol(
    "capf_mpi_inf_3dhp",
    paper="Context-Aware PoseFormer (Zhao et al., NeurIPS 2023)",
    dataset="MPI-INF-3DHP",
    inputs=(MPI_TEST,),
    published=MPI_PUBLISHED,
    layouts=(Table(MPI_SUMMARY, MPI_COLUMNS),),
    published_notes=MPI_NOTES,
)
def capf_mpi_inf_3dhp(inputs: EvalInputs) -> ProtocolResult:
    """CA-PF on MPI-INF-3DHP: official crops (JPEG round trip), ground-truth 2D, flip test, PCK / AUC."""
    from hpe_ros.datasets.mpi_inf_3dhp import MPI_INF_3DHP_17, MPI_ROOT_INDEX

    samples = mpi_samples(inputs.path(MPI_TEST))[: inputs.limit]
    predicted = predict(samples, "mpi", inputs, MPI_ROOT_INDEX, MPI_INF_3DHP_17.flip_permutation,
                        JPEG_QUALITY)
    notes = [f"{len(samples)} valid frames, ground-truth 2D (as the official MPI-INF-3DHP model)",
             f"backbone {inputs.options.get('capf_backbone', 'hrnet_32')}"]
    return ProtocolResult(mpi_tables(predicted, samples), tuple(notes))


__all__ = [
    "CAPF_CHECKPOINT",
    "CAPF_LABELS",
    "H36M_IMAGES",
    "H36M_FRAMES",
    "MPI_TEST",
    "MPI_TEST_INTRINSICS",
    "CapfInputs",
    "CapfSample",
    "build_models",
    "capf_h36m",
    "capf_h36m_labels",
    "capf_mpi_inf_3dhp",
    "h36m_frame_samples",
    "h36m_tables",
    "lift",
    "mpi_samples",
    "mpi_tables",
    "predict",
    "prepare",
    "prepare_labels",
]
