"""EventHPE's test on its MMHPSD data: ``eventhpe_mmhpsd``.

The official ``test_whole_set`` (JimmyZou/EventHPE): every test clip of ``test_track0802.pkl`` is
8 steps of ``skip = 2`` gray-frame intervals; a step's input is its 8 event partitions (OR-pooled
into 8 channels when there are more) and the stored FlowNet flow summed over the step; the
tracker starts from VIBE's estimate at the clip's first frame (``eventhpe_start=gt`` starts from
the annotation) with HMR's 2048-d image feature as the GRU's initial state.
The metrics are :mod:`hpe_ros.evaluation.eventhpe_metrics` (MPJPE, PA-MPJPE, PEL-MPJPE, PVE, PCKs)
over all (clip, step, joint); the target mesh is SMPL with the annotated pose and translation and
the start's shape, as the official code builds it.

Inputs: the authors' ``data_event`` folder (:mod:`hpe_ros.datasets.mmhpsd`; joblib reads its
``.pkl`` files), their ShapeNet checkpoint and the SMPL model it was trained with
(``basicModel_m_lbs_10_207_0_v1.0.0.pkl``, male).
"""

from __future__ import annotations

import numpy as np

from hpe_ros.evaluation.eventhpe_metrics import eventhpe_metrics
from hpe_ros.evaluation.protocols import (
    EvalInputs,
    ProtocolResult,
    Row,
    Table,
    declare_input,
    register_protocol,
)

EVENTHPE_DATA = declare_input(
    "eventhpe_data", "EventHPE's pre-processed MMHPSD folder (data_event: events_256/, pose_events/, "
    "pred_flow_events_256/, hmr_results/, vibe_results_0802/, test_track0802.pkl)"
)
EVENTHPE_CHECKPOINT = declare_input(
    "eventhpe_checkpoint", "the authors' ShapeNet checkpoint (model_events_pose.pkl)"
)
EVENTHPE_SMPL = declare_input(
    "eventhpe_smpl", "the SMPL model the ShapeNet was trained with (basicModel_m_lbs_10_207_0_v1.0.0.pkl)"
)

TABLE = "MMHPSD test set (mm; PCKs as fractions)"
COLUMNS = ("MPJPE", "PA-MPJPE", "PEL-MPJPE", "PVE", "PCK", "PCKh@0.5", "PCK@0.2 torso")
STEPS, SKIP, CHANNELS = 8, 2, 8
PUBLISHED_NOTES = (
    "none printed: the paper's MMHPSD table (arXiv 2108.06819, ICCV 2021) could not be read when "
    "this protocol was added (only the paper's first page was reachable) and the official README "
    "gives no numbers; the rows to add are the full model's (events + flow, VIBE start), which "
    "need the authors' model_events_pose.pkl",
)


def build_shapenet(inputs: EvalInputs):  # noqa: ANN201 - torch is imported lazily
    """The ShapeNet and its SMPL layer: the authors' weights, or seeded random ones (--random-weights)."""
    import torch

    from hpe_ros.models.convert_eventhpe import load_shapenet_state
    from hpe_ros.models.eventhpe import EventShapeNet
    from hpe_ros.models.smpl import SMPLModel
    from hpe_ros.models.smpl_synthetic import make_synthetic_smpl

    checkpoint, smpl_path = inputs.get(EVENTHPE_CHECKPOINT), inputs.get(EVENTHPE_SMPL)
    if (checkpoint is None or smpl_path is None) and not inputs.allow_random_weights:
        raise ValueError(f"needs {EVENTHPE_CHECKPOINT.option} ({EVENTHPE_CHECKPOINT.help}) and "
                         f"{EVENTHPE_SMPL.option} ({EVENTHPE_SMPL.help}), or --random-weights to check "
                         "the protocol alone")
    smpl = SMPLModel.from_file(smpl_path, gender="male") if smpl_path else SMPLModel(make_synthetic_smpl())
    torch.manual_seed(0)
    model = EventShapeNet(smpl, event_channels=CHANNELS, use_flow=True)
    if checkpoint is not None:
        load_shapenet_state(model, str(checkpoint))
    return model.eval()


def clip_arrays(data, action: str, first: int, start: str) -> dict[str, np.ndarray]:  # noqa: ANN001
    """One clip's inputs and targets in the official test's form."""
    from hpe_ros.pipelines.events.representations import or_pool_channels

    frames = first + SKIP * np.arange(STEPS + 1)
    events, flows, poses = [], [], []
    for begin, end in zip(frames[:-1].tolist(), frames[1:].tolist(), strict=True):
        events.append(or_pool_channels(data.step_partitions(action, begin, end), CHANNELS))
        flows.append(data.step_flow(action, begin, end, SKIP))
        poses.append(data.pose(action, end))
    if start == "vibe":
        initial = data.vibe_start(action, first, STEPS, SKIP)
    else:
        pose = data.pose(action, first)
        initial = np.concatenate([pose.translation, pose.pose, pose.betas])
    return {
        "events": np.stack(events).astype(np.float32), "flows": np.stack(flows).astype(np.float32),
        "initial": initial, "feature": data.hmr_feature(action, first),
        "pose": np.stack([p.pose for p in poses]), "translation": np.stack([p.translation for p in poses]),
        "joints": np.stack([p.joints for p in poses]),
    }


def track(model, clips: list[dict[str, np.ndarray]], device: str) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Predicted and target joints and meshes (B, T, ., 3), metres."""
    import torch

    from hpe_ros.models.eventhpe import SMPLInitialState
    from hpe_ros.models.rotations import axis_angle_to_matrix

    def stack(key: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([c[key] for c in clips])).float().to(device)

    with torch.no_grad():
        initial = SMPLInitialState.from_packed(stack("initial"))
        out = model(stack("events"), initial, stack("flows"), stack("feature"))
        batch = len(clips)
        pose = axis_angle_to_matrix(stack("pose").reshape(-1, 24, 3))
        betas = initial.betas[:, None].expand(batch, STEPS, 10).reshape(-1, 10)
        target = model.smpl(pose=pose, betas=betas).vertices.reshape(batch, STEPS, -1, 3)
        target = target + stack("translation")[:, :, None]
    return {"joints": out.joints.double().cpu().numpy(), "vertices": out.vertices.double().cpu().numpy(),
            "target_joints": stack("joints").double().cpu().numpy(),
            "target_vertices": target.double().cpu().numpy()}


@register_protocol("eventhpe_mmhpsd", paper="EventHPE (Zou et al., ICCV 2021)", dataset="MMHPSD",
                   inputs=(EVENTHPE_DATA,), layouts=(Table(TABLE, COLUMNS),),
                   published_notes=PUBLISHED_NOTES)
def eventhpe_mmhpsd(inputs: EvalInputs) -> ProtocolResult:
    """EventHPE's test clips: 8 steps of 2 gray-frame intervals from VIBE's start; MPJPE, PA, PEL, PVE."""
    from hpe_ros.datasets.mmhpsd import MMHPSDFolder

    data = MMHPSDFolder(inputs.path(EVENTHPE_DATA))
    clips = data.test_clips(STEPS, SKIP)
    action = inputs.options.get("eventhpe_action", "")
    clips = [c for c in clips if action in c[0]][: inputs.limit]
    if not clips:
        raise ValueError(f"no test clip{f' of {action!r}' if action else ''} in {data.root}")
    start = inputs.options.get("eventhpe_start", "vibe")
    if start not in ("vibe", "gt"):
        raise ValueError(f"eventhpe_start must be vibe (the official) or gt, got {start!r}")
    model = build_shapenet(inputs).to(inputs.device)
    results: dict[str, list[np.ndarray]] = {}
    for first in range(0, len(clips), inputs.batch_size):
        arrays = [clip_arrays(data, a, f, start) for a, f in clips[first : first + inputs.batch_size]]
        for key, value in track(model, arrays, inputs.device).items():
            results.setdefault(key, []).append(value)
    merged = {key: np.concatenate(value) for key, value in results.items()}
    metrics = eventhpe_metrics(merged["joints"], merged["target_joints"], merged["vertices"],
                               merged["target_vertices"])
    assert metrics.pve_mm is not None  # the meshes are passed, so PVE is measured
    values = {"MPJPE": metrics.mpjpe_mm, "PA-MPJPE": metrics.pa_mpjpe_mm,
              "PEL-MPJPE": metrics.pel_mpjpe_mm, "PVE": metrics.pve_mm, "PCK": metrics.pck,
              "PCKh@0.5": metrics.pck_head, "PCK@0.2 torso": metrics.pck_torso}
    notes = (f"{len(clips)} clips x {STEPS} steps, start {start}",
             "flows: the stored FlowNet flows, as the official test")
    return ProtocolResult((Table(TABLE, COLUMNS, (Row(f"measured ({len(clips)} clips)", values),)),), notes)
