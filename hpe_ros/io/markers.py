"""RViz markers for skeletons and meshes (``visualization_msgs/MarkerArray``).

Every person gets a namespace of its own (``<prefix>/<track id or index>``) holding two
markers, joints (id 0) and bones (id 1), so people never overwrite each other. Markers
carry a short lifetime: a person who leaves the view disappears by itself.
"""

from __future__ import annotations

from collections import deque
from itertools import repeat
from typing import Any

import numpy as np

from hpe_ros.io.message_classes import MessageClasses
from hpe_ros.io.messages import make_header
from hpe_ros.pipelines.base import PersonPose, PoseResult

# Marker type / action constants of visualization_msgs/Marker.
SPHERE_LIST = 7
LINE_LIST = 5
TRIANGLE_LIST = 11
ADD = 0

JOINT_DIAMETER_M = 0.05
BONE_WIDTH_M = 0.02
MESH_RGBA = (0.6, 0.7, 0.9, 0.8)


def confidence_colours(confidence: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """(N,) confidences in [0, 1] -> (N, 4) RGBA running red (0) over yellow to green (1)."""
    c = np.clip(np.nan_to_num(np.asarray(confidence, dtype=np.float64)), 0.0, 1.0)
    rgba = np.empty((len(c), 4))
    rgba[:, 0] = np.clip(2.0 * (1.0 - c), 0.0, 1.0)
    rgba[:, 1] = np.clip(2.0 * c, 0.0, 1.0)
    rgba[:, 2] = 0.0
    rgba[:, 3] = alpha
    return rgba


def _duration(classes: MessageClasses, seconds: float) -> Any:
    sec = int(seconds)
    return classes.new("builtin_interfaces/msg/Duration", sec=sec, nanosec=int(round((seconds - sec) * 1e9)))


def _colour_msgs(classes: MessageClasses, rgba: np.ndarray) -> list[Any]:
    cls = classes.get("std_msgs/msg/ColorRGBA")
    return [cls(r=float(r), g=float(g), b=float(b), a=float(a)) for r, g, b, a in rgba]


def _point_msgs(classes: MessageClasses, xyz: np.ndarray) -> list[Any]:
    cls = classes.get("geometry_msgs/msg/Point")
    return [cls(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, dtype=np.float64).reshape(-1, 3).tolist()]


def _marker(classes: MessageClasses, header: Any, ns: str, marker_id: int, marker_type: int,
            scale: float, points: np.ndarray | list[Any], colours: np.ndarray | list[Any], lifetime_s: float,
            rgba: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)) -> Any:
    """``points``: (N, 3) positions, ``colours`` (N, 4) RGBA, or their messages already built."""
    return classes.new(
        "visualization_msgs/msg/Marker",
        header=header,
        ns=ns,
        id=marker_id,
        type=marker_type,
        action=ADD,
        pose=classes.new(
            "geometry_msgs/msg/Pose", orientation=classes.new("geometry_msgs/msg/Quaternion", w=1.0)
        ),
        scale=classes.new("geometry_msgs/msg/Vector3", x=scale, y=scale, z=scale),
        color=classes.new("std_msgs/msg/ColorRGBA", r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3]),
        lifetime=_duration(classes, lifetime_s),
        points=points if isinstance(points, list) else _point_msgs(classes, points),
        colors=colours if isinstance(colours, list) else _colour_msgs(classes, colours),
    )


def person_namespace(prefix: str, person: PersonPose, index: int) -> str:
    return f"{prefix}/{person.track_id or f'person_{index}'}"


def skeleton_markers(classes: MessageClasses, result: PoseResult, prefix: str = "skeleton",
                     lifetime_s: float = 0.3) -> Any:
    """Joints (spheres) and bones (lines) of every person, coloured by confidence.

    A bone takes the colour of its less confident joint. The bones share the joints' point and
    colour messages (building messages is most of the cost; the bytes are the same)."""
    header = make_header(classes, result.stamp_ns, result.frame_id)
    markers = []
    for index, person in enumerate(result.people):
        ns = person_namespace(prefix, person, index)
        joints = np.asarray(person.joints_3d, dtype=np.float64)
        valid = np.asarray(np.isfinite(joints).all(axis=1), dtype=bool)
        confidence = np.clip(np.nan_to_num(np.asarray(person.confidence, dtype=np.float64)), 0.0, 1.0)
        shown = np.flatnonzero(valid)
        points = dict(zip(shown.tolist(), _point_msgs(classes, joints[shown]), strict=True))
        colours = dict(zip(shown.tolist(), _colour_msgs(classes, confidence_colours(confidence[shown])),
                           strict=True))
        markers.append(_marker(classes, header, ns, 0, SPHERE_LIST, JOINT_DIAMETER_M,
                               list(points.values()), list(colours.values()), lifetime_s))
        bones = [(a, b) for a, b in person.joint_set.bones if valid[a] and valid[b]]
        lower = [a if confidence[a] <= confidence[b] else b for a, b in bones]
        markers.append(_marker(classes, header, ns, 1, LINE_LIST, BONE_WIDTH_M,
                               [points[j] for bone in bones for j in bone],
                               [colours[j] for j in lower for _ in range(2)], lifetime_s))
    return classes.new("visualization_msgs/msg/MarkerArray", markers=markers)


def mesh_marker(classes: MessageClasses, vertices: np.ndarray, faces: np.ndarray, header: Any, ns: str,
                marker_id: int = 0, rgba: tuple[float, float, float, float] = MESH_RGBA,
                lifetime_s: float = 0.3) -> Any:
    """A body mesh as one TRIANGLE_LIST marker (three points per face, one colour).

    Each vertex's point message is built once and shared by its faces: a message per corner
    (three times as many) made this the costliest output of a SMPL body (``hpe-ros bench``)."""
    vertex_points = _point_msgs(classes, vertices)
    corners = [vertex_points[index] for index in np.asarray(faces).ravel().tolist()]
    return _marker(
        classes, header, ns, marker_id, TRIANGLE_LIST, 1.0, corners, np.zeros((0, 4)), lifetime_s, rgba
    )


def mesh_markers(classes: MessageClasses, result: PoseResult, faces: np.ndarray | None,
                 prefix: str = "mesh", lifetime_s: float = 0.3) -> Any:
    """One mesh marker per person that has SMPL vertices (point messages of their own)."""
    markers = MeshMarkers(classes).markers(result, faces, prefix, lifetime_s)
    return classes.new("visualization_msgs/msg/MarkerArray", markers=markers)


class MeshMarkers:
    """Mesh markers whose point messages are made once and refilled frame after frame.

    Making a point message per vertex every frame cost more than anything else in a SMPL
    result's messages, and the thousands of objects it left behind set off full garbage
    collections (over 100 ms with the models loaded; ``hpe-ros bench``). Here the i-th mesh of a
    frame refills the i-th set of point messages, so the markers of one call share their points
    with those of the next: publish or serialise them before building the next frame's (the
    nodes and bag writing do). The bytes are those :func:`mesh_marker` gives."""

    def __init__(self, classes: MessageClasses) -> None:
        self.classes = classes
        self._faces: np.ndarray | None = None
        self._sets: list[tuple[list[Any], list[Any]]] = []  # (a point per vertex, a point per corner)

    def markers(self, result: PoseResult, faces: np.ndarray | None, prefix: str = "mesh",
                lifetime_s: float = 0.3) -> list[Any]:
        """One TRIANGLE_LIST marker per person that has SMPL vertices; none without ``faces``."""
        if faces is None:
            return []
        if self._faces is None or not np.array_equal(faces, self._faces):
            self._faces, self._sets = np.array(faces), []
        header = make_header(self.classes, result.stamp_ns, result.frame_id)
        markers: list[Any] = []
        for index, person in enumerate(result.people):
            if person.smpl is None or person.smpl.vertices is None:
                continue
            corners = self._refill(len(markers), person.smpl.vertices, self._faces)
            markers.append(_marker(self.classes, header, person_namespace(prefix, person, index), 0,
                                   TRIANGLE_LIST, 1.0, corners, np.zeros((0, 4)), lifetime_s, MESH_RGBA))
        return markers

    def _refill(self, slot: int, vertices: np.ndarray, faces: np.ndarray) -> list[Any]:
        xyz = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
        if slot == len(self._sets):
            self._sets.append(([], []))
        points, corners = self._sets[slot]
        if len(points) != len(xyz):
            points = _point_msgs(self.classes, xyz)
            corners = [points[index] for index in faces.ravel().tolist()]
            self._sets[slot] = (points, corners)
            return corners
        for name, values in zip(("x", "y", "z"), xyz.T.tolist(), strict=True):
            deque(map(setattr, points, repeat(name), values), maxlen=0)  # in C: 1.7x the Python loop
        return corners
