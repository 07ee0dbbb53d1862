"""The offline default RGB pipeline: BlazePose 2D -> the default lifter -> metric placement.

Works with no checkpoint at all: BlazePose's models ship inside the mediapipe wheel and the
default lifter's weights (trained on CMU motion capture) inside hpe_ros. BlazePose gives 2D
keypoints of every person (:mod:`hpe_ros.pipelines.rgb.blazepose`) but no feature maps, so the
lifter is context-agnostic; all people of a frame are lifted in one batch. With
``smpl_model_path`` each person also gets a SMPL body (:mod:`hpe_ros.pipelines.output.mesh`).
"""

from __future__ import annotations

import time

import numpy as np

from hpe_ros.core.joints import BLAZEPOSE_33, H36M_17, convert_joints
from hpe_ros.pipelines.base import ImageFrame, Pipeline, PoseResult
from hpe_ros.pipelines.output.mesh import MeshOutput, mesh_off_message
from hpe_ros.pipelines.output.people import place_people
from hpe_ros.pipelines.rgb.blazepose import BlazePoseDetector, Pose2D, parse_tile_sides
from hpe_ros.pipelines.rgb.default_lifter import DefaultLifter, load_default_lifter


class BlazePoseLiftingPipeline(Pipeline):
    name = "blazepose"
    input_kind = "image"

    def __init__(self, lifter_weights: str = "", min_person_score: float = 0.3, video_mode: bool = True,
                 max_people: int = 20, redetect_every: int = 5, tile_sides: str = "1.0,0.6",
                 detector: BlazePoseDetector | None = None, lifter: DefaultLifter | None = None,
                 smpl_model_path: str = "", posh_checkpoint: str = "", smpl_gender: str = "neutral",
                 publish_vertices: bool = True) -> None:
        self.lifter = lifter or load_default_lifter(lifter_weights or None)
        self.lifter_weights = lifter_weights or "default (hpe_ros/data/default_lifter.pt)"
        self.min_person_score = min_person_score
        self.mesh = MeshOutput.from_options(self.name, smpl_model_path, posh_checkpoint, smpl_gender,
                                            publish_vertices)
        self.detector = detector or BlazePoseDetector(video_mode=video_mode, max_people=max_people,
                                                      redetect_every=redetect_every,
                                                      tile_sides=parse_tile_sides(tile_sides))

    def people_2d(self, image: np.ndarray) -> list[Pose2D]:
        return [p for p in self.detector.detect(image) if p.score >= self.min_person_score]

    def process(self, frame: ImageFrame) -> PoseResult:
        result = PoseResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, image_size=frame.size)
        started = time.perf_counter()
        people = self.people_2d(frame.image)
        if not people:
            result.timings_s["2d"] = time.perf_counter() - started
            return result
        # every person in one conversion: what to_h36m17 gives person by person
        converted = convert_joints(np.stack([p.keypoints for p in people]), BLAZEPOSE_33, H36M_17,
                                   np.stack([p.scores for p in people]))
        result.timings_s["2d"] = time.perf_counter() - started
        keypoints = converted.points
        assert converted.scores is not None
        scores = converted.scores.astype(np.float32)
        started = time.perf_counter()
        height, width = frame.image.shape[:2]
        relative = self.lifter.lift(keypoints, scores, frame.camera, (width, height))
        result.timings_s["lift"] = time.perf_counter() - started
        boxes = np.stack([p.box for p in people])
        result.people.extend(place_people(keypoints, scores, relative, boxes, frame.camera, result.timings_s,
                                          self.mesh, depth=frame.depth))
        return result

    def describe(self) -> dict[str, str]:
        tiles = ", ".join(f"{side:g}" for side in self.detector.tile_sides) or "none"
        return {
            "pipeline": self.name,
            "2d": f"BlazePose GHUM full via LiteRT (up to {self.detector.max_people} people; detector tiles "
            f"{tiles}; {'video' if self.detector.video_mode else 'image'} mode; no feature maps)",
            "lifter": f"context-agnostic {self.lifter_weights}",
            "mesh": self.mesh.describe() if self.mesh else mesh_off_message(self.name),
        }

    def mesh_faces(self) -> np.ndarray | None:
        return self.mesh.faces if self.mesh is not None else None

    def close(self) -> None:
        self.detector.close()


