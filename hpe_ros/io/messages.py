"""numpy / pipeline results <-> ROS messages, for rclpy and rosbags classes alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import SkeletonType, get_joint_set
from hpe_ros.io.input_bounds import check_camera_info
from hpe_ros.io.message_classes import MessageClasses
from hpe_ros.pipelines.base import PersonPose, PoseResult, SMPLEstimate

_GENDERS = {"neutral": 0, "male": 1, "female": 2}
_GENDER_NAMES = {code: name for name, code in _GENDERS.items()}


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(classes: MessageClasses, stamp_ns: int) -> Any:
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return classes.new("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)


def make_header(classes: MessageClasses, stamp_ns: int, frame_id: str) -> Any:
    return classes.new("std_msgs/msg/Header", stamp=ns_to_stamp(classes, stamp_ns), frame_id=frame_id)


def camera_from_info(msg: Any) -> CameraModel:
    """``sensor_msgs/CameraInfo`` -> :class:`CameraModel`.

    Raises ValueError on intrinsics outside :mod:`hpe_ros.io.input_bounds` (an uncalibrated or
    corrupt message) or not a usable pinhole camera."""
    check_camera_info(msg)
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    return CameraModel(
        width=int(msg.width),
        height=int(msg.height),
        K=k,
        D=np.asarray(msg.d, dtype=np.float64).ravel(),
        distortion_model=str(msg.distortion_model),
        frame_id=str(msg.header.frame_id),
    )


def camera_to_info(classes: MessageClasses, camera: CameraModel, stamp_ns: int) -> Any:
    """:class:`CameraModel` -> ``sensor_msgs/CameraInfo`` (rectification identity, P from K)."""
    p = np.zeros((3, 4))
    p[:, :3] = camera.K
    return classes.new(
        "sensor_msgs/msg/CameraInfo",
        header=make_header(classes, stamp_ns, camera.frame_id),
        height=camera.height,
        width=camera.width,
        distortion_model=camera.distortion_model,
        d=classes.sequence(camera.D, "float64"),
        k=classes.fixed(camera.K, "float64"),
        r=classes.fixed(np.eye(3), "float64"),
        p=classes.fixed(p, "float64"),
    )


def _points(
    classes: MessageClasses, xyz: np.ndarray, type_name: str = "geometry_msgs/msg/Point"
) -> list[Any]:
    cls = classes.get(type_name)
    return [cls(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, dtype=np.float64).reshape(-1, 3).tolist()]


def person_to_skeleton(classes: MessageClasses, person: PersonPose, header: Any) -> Any:
    """One :class:`PersonPose` -> ``hpe_ros_msgs/Skeleton3D``."""
    if person.joint_set.skeleton_type is None:
        raise ValueError(f"joint set {person.joint_set.name} cannot be published; convert it first")
    keypoints = []
    if person.keypoints_2d is not None:
        scores = person.scores_2d if person.scores_2d is not None else np.ones(len(person.keypoints_2d))
        cls = classes.get("hpe_ros_msgs/msg/Keypoint2D")
        keypoints = [
            cls(u=float(u), v=float(v), score=float(s))
            for (u, v), s in zip(person.keypoints_2d, scores, strict=False)
        ]
    box = person.box if person.box is not None else np.zeros(5)
    return classes.new(
        "hpe_ros_msgs/msg/Skeleton3D",
        header=header,
        id=person.track_id,
        skeleton_type=int(person.joint_set.skeleton_type),
        metric=bool(person.metric),
        positions=_points(classes, person.joints_3d),
        confidence=classes.sequence(person.confidence, "float32"),
        root_confidence=float(person.root_confidence),
        keypoints_2d=keypoints,
        box=classes.new(
            "hpe_ros_msgs/msg/BoundingBox2D",
            x_min=float(box[0]),
            y_min=float(box[1]),
            x_max=float(box[2]),
            y_max=float(box[3]),
            score=float(box[4]),
        ),
    )


def result_to_skeleton_array(classes: MessageClasses, result: PoseResult) -> Any:
    """A whole :class:`PoseResult` -> ``hpe_ros_msgs/Skeleton3DArray`` stamped like the input."""
    header = make_header(classes, result.stamp_ns, result.frame_id)
    skeletons = [
        person_to_skeleton(classes, p, header) for p in result.people if p.joint_set.skeleton_type is not None
    ]
    return classes.new("hpe_ros_msgs/msg/Skeleton3DArray", header=header, skeletons=skeletons)


def skeleton_to_person(msg: Any) -> PersonPose:
    """``Skeleton3D`` -> :class:`PersonPose` (the inverse of :func:`person_to_skeleton`)."""
    joint_set = get_joint_set(SkeletonType(int(msg.skeleton_type)))
    joints = np.array([[p.x, p.y, p.z] for p in msg.positions], dtype=np.float64).reshape(-1, 3)
    keypoints = scores = None
    if len(msg.keypoints_2d):
        kp = np.array([[k.u, k.v, k.score] for k in msg.keypoints_2d], dtype=np.float32)
        keypoints, scores = kp[:, :2], kp[:, 2]
    b = msg.box
    return PersonPose(
        joint_set=joint_set,
        joints_3d=joints,
        confidence=np.asarray(msg.confidence, dtype=np.float32),
        metric=bool(msg.metric),
        root_confidence=float(msg.root_confidence),
        keypoints_2d=keypoints,
        scores_2d=scores,
        box=np.array([b.x_min, b.y_min, b.x_max, b.y_max, b.score], dtype=np.float32),
        track_id=str(msg.id),
    )


def skeleton_array_to_result(msg: Any) -> PoseResult:
    return PoseResult(
        stamp_ns=stamp_to_ns(msg.header.stamp),
        frame_id=str(msg.header.frame_id),
        people=[skeleton_to_person(s) for s in msg.skeletons],
    )


def smpl_to_body(classes: MessageClasses, smpl: SMPLEstimate, track_id: str, header: Any) -> Any:
    """:class:`SMPLEstimate` -> ``hpe_ros_msgs/SMPLBody`` (vertices flat: x, y, z per vertex)."""
    vertices = np.zeros(0) if smpl.vertices is None else smpl.vertices
    t = np.asarray(smpl.translation, dtype=np.float64)
    return classes.new(
        "hpe_ros_msgs/msg/SMPLBody",
        header=header,
        id=track_id,
        gender=_GENDERS.get(smpl.gender, 0),
        betas=classes.fixed(np.asarray(smpl.betas)[:10], "float32"),
        body_pose=classes.fixed(np.asarray(smpl.body_pose).reshape(72), "float32"),
        translation=classes.new("geometry_msgs/msg/Vector3", x=float(t[0]), y=float(t[1]), z=float(t[2])),
        joints=_points(classes, smpl.joints),
        vertices=classes.sequence(vertices, "float32"),
    )


def body_to_smpl(msg: Any) -> SMPLEstimate:
    """``SMPLBody`` -> :class:`SMPLEstimate` (the inverse of :func:`smpl_to_body`; float32 values)."""
    vertices = np.asarray(msg.vertices, dtype=np.float32)
    if vertices.size % 3:
        raise ValueError(f"SMPLBody.vertices holds {vertices.size} values, not x, y, z per vertex")
    t = msg.translation
    return SMPLEstimate(
        betas=np.asarray(msg.betas, dtype=np.float32),
        body_pose=np.asarray(msg.body_pose, dtype=np.float32).reshape(24, 3),
        translation=np.array([t.x, t.y, t.z]),
        joints=np.array([[p.x, p.y, p.z] for p in msg.joints], dtype=np.float64).reshape(-1, 3),
        vertices=vertices.reshape(-1, 3) if vertices.size else None,
        gender=_GENDER_NAMES.get(int(msg.gender), "neutral"),
    )


def result_to_body_array(classes: MessageClasses, result: PoseResult) -> Any:
    header = make_header(classes, result.stamp_ns, result.frame_id)
    bodies = [smpl_to_body(classes, p.smpl, p.track_id, header) for p in result.people if p.smpl is not None]
    return classes.new("hpe_ros_msgs/msg/SMPLBodyArray", header=header, bodies=bodies)


def faces_to_msg(classes: MessageClasses, faces: np.ndarray, num_vertices: int, model: str,
                 stamp_ns: int, frame_id: str) -> Any:
    faces = np.asarray(faces)
    if (
        faces.ndim != 2
        or faces.shape[1] != 3
        or (faces.size and (faces.min() < 0 or faces.max() >= num_vertices))
    ):
        raise ValueError(f"faces must be (F, 3) indices below {num_vertices}, got shape {faces.shape}")
    return classes.new(
        "hpe_ros_msgs/msg/MeshFaces",
        header=make_header(classes, stamp_ns, frame_id),
        model=model,
        num_vertices=int(num_vertices),
        triangles=classes.sequence(faces, "uint32"),
    )


