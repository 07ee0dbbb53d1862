"""The offline default RGB pipeline: BlazePose 2D -> the default lifter -> metric placement.

Works with no checkpoint at all: BlazePose's models ship inside the mediapipe wheel and the
default lifter's weights (trained on CMU motion capture) inside hpe_ros. BlazePose gives 2D
keypoints but no feature maps, so the lifter is context-agnostic; BlazePose also finds at most
one person per image.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hpe_ros.core.joints import H36M_17
from hpe_ros.pipelines.base import ImageFrame, PersonPose, Pipeline, PoseResult
from hpe_ros.pipelines.blazepose import BlazePoseDetector, Pose2D, to_h36m17
from hpe_ros.pipelines.default_lifter import DefaultLifter, load_default_lifter
from hpe_ros.pipelines.placement import place_skeletons


class BlazePoseLiftingPipeline(Pipeline):
    name = "blazepose"
    input_kind = "image"

    def __init__(self, lifter_weights: str = "", min_person_score: float = 0.3, video_mode: bool = True,
                 detector: BlazePoseDetector | None = None, lifter: DefaultLifter | None = None) -> None:
        self.detector = detector or BlazePoseDetector(video_mode=video_mode)
        self.lifter = lifter or load_default_lifter(lifter_weights or None)
        self.lifter_weights = lifter_weights or "default (hpe_ros/data/default_lifter.pt)"
        self.min_person_score = min_person_score

    def people_2d(self, image: np.ndarray) -> list[Pose2D]:
        return [p for p in self.detector.detect(image) if p.score >= self.min_person_score]

    def process(self, frame: ImageFrame) -> PoseResult:
        result = PoseResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id)
        started = time.perf_counter()
        people = [to_h36m17(p) for p in self.people_2d(frame.image)]
        result.timings_s["2d"] = time.perf_counter() - started
        if not people:
            return result
        keypoints = np.stack([p.keypoints for p in people])
        scores = np.stack([p.scores for p in people]).astype(np.float32)
        started = time.perf_counter()
        relative = self.lifter.lift(keypoints, scores)
        result.timings_s["lift"] = time.perf_counter() - started
        joints, metric = relative, np.zeros(len(people), bool)
        root_confidence = np.zeros(len(people))
        if frame.camera is not None:
            placement = place_skeletons(keypoints, relative, frame.camera, scores)
            metric = placement.metric
            joints = np.where(metric[:, None, None], placement.joints_camera, relative)
            root_confidence = placement.confidence
        for index, person in enumerate(people):
            result.people.append(PersonPose(
                joint_set=H36M_17,
                joints_3d=joints[index],
                confidence=np.nan_to_num(scores[index]),
                metric=bool(metric[index]),
                root_confidence=float(root_confidence[index]),
                keypoints_2d=keypoints[index].astype(np.float32),
                scores_2d=scores[index],
                box=person.box.astype(np.float32),
            ))
        return result

    def describe(self) -> dict[str, str]:
        return {"pipeline": self.name, "2d": "BlazePose (mediapipe, offline; one person; no feature maps)",
                "lifter": f"context-agnostic {self.lifter_weights}"}

    def close(self) -> None:
        self.detector.close()


