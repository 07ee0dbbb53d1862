"""ROS4HRI (REP-155) body outputs of a :class:`PoseResult`, for rclpy and rosbags classes alike.

For every tracked person (non-empty ``track_id``; tentative tracks are left out) the body id is
the track id made a valid ROS name token (:func:`body_id`). Per frame this gives
``hri_msgs/IdsList`` of the tracked bodies, per body a ``hri_msgs/Skeleton2D`` and a
``hri_msgs/NormalizedRegionOfInterest2D`` (image coordinates divided by the image's width and
height, clipped to [0, 1]) and, for metric skeletons, ``/tf`` frames: ``body_<id>`` at the mid-hip
with REP-155's axes (x out of the body's front, z towards the head, y to the person's left),
parented to the camera frame, and one frame per REP-155 body link (``head_<id>``, ``l_wrist_<id>``,
...) parented to ``body_<id>``. The link frames carry positions only: their orientation is the
body frame's (no limb rotations are estimated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from hpe_ros.core.joints import COCO_17, convert_joints
from hpe_ros.io.message_classes import MessageClasses
from hpe_ros.io.messages import make_header
from hpe_ros.pipelines.base import PersonPose, PoseResult

# Skeleton2D's 18 points (OpenPose COCO order, the message's NOSE = 0 ... RIGHT_EAR = 17) as COCO-17
# joint names; OpenPose's neck (index 1) is the mid-shoulder point and has no COCO joint.
SKELETON2D_JOINTS: tuple[str | None, ...] = (
    "nose", None, "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "left_eye", "right_eye", "left_ear", "right_ear",
)
SKELETON2D_NECK = 1

_LIMBS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
# REP-155 body link -> our joints whose mean stands for it (human_description's links at zero pose:
# the torso link sits at shoulder height, the head link in the middle of the head).
_LINK_JOINTS: dict[str, tuple[str, ...]] = {
    **{f"{side[0]}_{part}": (f"{side}_{part}",) for side in ("left", "right") for part in _LIMBS},
    "torso": ("left_shoulder", "right_shoulder"),
}
_HEAD_JOINTS: dict[str, tuple[str, ...]] = {
    "h36m_17": ("neck", "head"),  # H36M's neck/nose and head top
    "coco_17": ("left_eye", "right_eye", "left_ear", "right_ear"),
    "blazepose_33": ("left_eye", "right_eye", "left_ear", "right_ear"),
    "smpl_24": ("head",),
}


def body_id(track_id: str) -> str:
    """``track_id`` as a ROS name token: lowercase ``[a-z0-9_]``, no repeated underscores, a letter first."""
    token = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", track_id.lower()))
    return token if token[:1].isalpha() else f"b{token}"


def tracked_bodies(result: PoseResult) -> list[tuple[str, PersonPose]]:
    """(body id, person) of every tracked person, in order; ids made unique if sanitising merged two."""
    bodies: list[tuple[str, PersonPose]] = []
    used: set[str] = set()
    for person in result.people:
        if not person.track_id:
            continue
        base = candidate = body_id(person.track_id)
        count = 1
        while candidate in used:
            count += 1
            candidate = f"{base}_{count}"
        used.add(candidate)
        bodies.append((candidate, person))
    return bodies


def ids_list(classes: MessageClasses, result: PoseResult, ids: list[str]) -> Any:
    return classes.new("hri_msgs/msg/IdsList", header=make_header(classes, result.stamp_ns, result.frame_id),
                       ids=list(ids))


def _scores_2d(person: PersonPose) -> np.ndarray:
    scores = person.scores_2d if person.scores_2d is not None else person.confidence
    return np.asarray(scores, dtype=np.float64)


def _normalised(xy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    return np.clip(np.asarray(xy, dtype=np.float64) / np.asarray(image_size, dtype=np.float64), 0.0, 1.0)


def skeleton2d_points(person: PersonPose, image_size: tuple[int, int]) -> np.ndarray | None:
    """(18, 3) normalised x, y and confidence c in Skeleton2D order; zeros where a point is unknown.

    None when the person has no 2D keypoints or its joint set does not map to COCO-17.
    """
    if person.keypoints_2d is None:
        return None
    try:
        coco = convert_joints(person.keypoints_2d, person.joint_set, COCO_17, _scores_2d(person))
    except KeyError:
        return None
    assert coco.scores is not None
    points = np.zeros((len(SKELETON2D_JOINTS), 3))
    for index, name in enumerate(SKELETON2D_JOINTS):
        if name is None:
            shoulders = COCO_17.indices(["left_shoulder", "right_shoulder"])
            xy, c = coco.points[shoulders].mean(axis=0), coco.scores[shoulders].min()
        else:
            xy, c = coco.points[COCO_17.index(name)], coco.scores[COCO_17.index(name)]
        if np.isfinite(xy).all() and np.isfinite(c):
            points[index] = [*_normalised(xy, image_size), float(np.clip(c, 0.0, 1.0))]
    return points


def skeleton2d(classes: MessageClasses, person: PersonPose, image_size: tuple[int, int],
               header: Any) -> Any | None:
    points = skeleton2d_points(person, image_size)
    if points is None:
        return None
    cls = classes.get("hri_msgs/msg/NormalizedPointOfInterest2D")
    return classes.new("hri_msgs/msg/Skeleton2D", header=header,
                       skeleton=[cls(x=float(x), y=float(y), c=float(c)) for x, y, c in points])


def region_box(person: PersonPose) -> np.ndarray | None:
    """(5,) pixel box x_min, y_min, x_max, y_max, score: the person's box, else the extent of its
    scoring keypoints (mean score); None when neither is known."""
    if person.box is not None and np.isfinite(person.box).all() and person.box[2] > person.box[0]:
        return np.asarray(person.box, dtype=np.float64)
    if person.keypoints_2d is None:
        return None
    scores = _scores_2d(person)
    usable = np.isfinite(person.keypoints_2d).all(axis=1) & (scores > 0)
    if usable.sum() < 2:
        return None
    xy = np.asarray(person.keypoints_2d, dtype=np.float64)[usable]
    return np.array([*xy.min(axis=0), *xy.max(axis=0), scores[usable].mean()])


def region_of_interest(classes: MessageClasses, person: PersonPose, image_size: tuple[int, int],
                       header: Any) -> Any | None:
    box = region_box(person)
    if box is None:
        return None
    (x_min, y_min), (x_max, y_max) = _normalised(box[:2], image_size), _normalised(box[2:4], image_size)
    return classes.new("hri_msgs/msg/NormalizedRegionOfInterest2D", header=header, xmin=float(x_min),
                       ymin=float(y_min), xmax=float(x_max), ymax=float(y_max),
                       c=float(np.clip(box[4], 0.0, 1.0)))


@dataclass(frozen=True)
class BodyFrame:
    """REP-155 body frame in the camera frame: ``rotation``'s columns are the body's x, y, z axes."""

    origin: np.ndarray  # (3,) mid-hip, metres
    rotation: np.ndarray  # (3, 3)

    def to_body(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame points expressed in this frame."""
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.rotation


def body_frame(person: PersonPose) -> BodyFrame | None:
    """Mid-hip origin, z from the hips to the shoulders, x out of the front of the torso; None when
    the hips or shoulders are unknown or degenerate."""
    names = person.joint_set.joint_names
    needed = ("left_hip", "right_hip", "left_shoulder", "right_shoulder")
    if not all(name in names for name in needed):
        return None
    joints = np.asarray(person.joints_3d, dtype=np.float64)
    l_hip, r_hip, l_sh, r_sh = joints[person.joint_set.indices(needed)]
    if not np.isfinite([l_hip, r_hip, l_sh, r_sh]).all():
        return None
    origin = (l_hip + r_hip) / 2
    up = (l_sh + r_sh) / 2 - origin
    left = (l_hip - r_hip) + (l_sh - r_sh)  # both lines of the torso, for a steadier side axis
    if np.linalg.norm(up) < 1e-6:
        return None
    z = up / np.linalg.norm(up)
    left = left - z * (left @ z)
    if np.linalg.norm(left) < 1e-6:
        return None
    y = left / np.linalg.norm(left)
    return BodyFrame(origin=origin, rotation=np.stack([np.cross(y, z), y, z], axis=1))


def quaternion_from_matrix(rotation: np.ndarray) -> np.ndarray:
    """(4,) x, y, z, w of a proper rotation matrix, w >= 0 (scipy's canonical quaternion)."""
    return Rotation.from_matrix(np.asarray(rotation, dtype=np.float64)).as_quat(canonical=True)


def link_positions(person: PersonPose) -> dict[str, np.ndarray]:
    """REP-155 link name -> (3,) camera-frame position, for the links this joint set provides."""
    rules = dict(_LINK_JOINTS)
    if person.joint_set.name in _HEAD_JOINTS:
        rules["head"] = _HEAD_JOINTS[person.joint_set.name]
    names = person.joint_set.joint_names
    joints = np.asarray(person.joints_3d, dtype=np.float64)
    positions = {}
    for link, sources in rules.items():
        if all(name in names for name in sources):
            xyz = joints[person.joint_set.indices(sources)].mean(axis=0)
            if np.isfinite(xyz).all():
                positions[link] = xyz
    return positions


def _transform(classes: MessageClasses, header: Any, child: str, xyz: np.ndarray, xyzw: np.ndarray) -> Any:
    return classes.new(
        "geometry_msgs/msg/TransformStamped",
        header=header,
        child_frame_id=child,
        transform=classes.new(
            "geometry_msgs/msg/Transform",
            translation=classes.new("geometry_msgs/msg/Vector3", x=float(xyz[0]), y=float(xyz[1]),
                                    z=float(xyz[2])),
            rotation=classes.new("geometry_msgs/msg/Quaternion", x=float(xyzw[0]), y=float(xyzw[1]),
                                 z=float(xyzw[2]), w=float(xyzw[3])),
        ),
    )


def body_transforms(classes: MessageClasses, body: str, person: PersonPose, stamp_ns: int,
                    camera_frame: str) -> list[Any]:
    """``body_<id>`` under ``camera_frame`` and ``<link>_<id>`` under it; empty unless metric."""
    frame = body_frame(person) if person.metric else None
    if frame is None:
        return []
    parent = f"body_{body}"
    transforms = [_transform(classes, make_header(classes, stamp_ns, camera_frame), parent, frame.origin,
                             quaternion_from_matrix(frame.rotation))]
    link_header = make_header(classes, stamp_ns, parent)
    identity = np.array([0.0, 0.0, 0.0, 1.0])
    for link, xyz in link_positions(person).items():
        local = frame.to_body(xyz[None])[0]
        transforms.append(_transform(classes, link_header, f"{link}_{body}", local, identity))
    return transforms


@dataclass
class HriBody:
    """One tracked body's per-body topics (None where the result cannot fill them)."""

    body_id: str
    skeleton2d: Any | None
    roi: Any | None


@dataclass
class HriMessages:
    """Everything REP-155 output of one result: ``/humans/bodies/tracked``, per-body topics, ``/tf``."""

    tracked: Any  # hri_msgs/IdsList
    bodies: list[HriBody]
    tf: Any  # tf2_msgs/TFMessage, possibly without transforms


def hri_messages(classes: MessageClasses, result: PoseResult) -> HriMessages:
    bodies = tracked_bodies(result)
    header = make_header(classes, result.stamp_ns, result.frame_id)
    per_body, transforms = [], []
    for body, person in bodies:
        size = result.image_size
        per_body.append(HriBody(
            body_id=body,
            skeleton2d=None if size is None else skeleton2d(classes, person, size, header),
            roi=None if size is None else region_of_interest(classes, person, size, header),
        ))
        transforms.extend(body_transforms(classes, body, person, result.stamp_ns, result.frame_id))
    return HriMessages(tracked=ids_list(classes, result, [body for body, _ in bodies]), bodies=per_body,
                       tf=classes.new("tf2_msgs/msg/TFMessage", transforms=transforms))
