#!/usr/bin/env python3
"""Evaluate BlazePose on COCO keypoint images: per-image and mean OKS, AP, time per image.

Two protocols are run on the images of a COCO keypoint file (default: the shared test images):

* ``boxes``: BlazePose on a crop around every annotated person's box (the "ground-truth boxes"
  protocol of top-down methods; it measures the keypoints, not person detection);
* ``image``: BlazePose on the whole image: the person detector on the image and its tiles finds
  everyone (``hpe_ros.pipelines.rgb.blazepose``).

Usage: python scripts/eval_blazepose_coco.py [--coco-dir ../shared/data/coco] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from hpe_ros.evaluation.coco import EvaluationReport, KeypointDetection, evaluate, load_coco_keypoints
from hpe_ros.pipelines.rgb.blazepose import BlazePoseDetector, Pose2D, to_coco17

DEFAULT_COCO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco"


def as_detection(pose: Pose2D) -> KeypointDetection:
    return KeypointDetection(keypoints=to_coco17(pose).keypoints, score=pose.score)


def print_report(title: str, report: EvaluationReport, seconds_per_image: float) -> None:
    print(f"\n== {title}")
    for image in report.images:
        per_person = " ".join(f"{value:.3f}" for value in image.person_oks)
        print(
            f"image {image.image_id:>7}: {image.num_detections} detections, "
            f"{int(image.matched.sum())}/{image.num_people} people matched, "
            f"mean OKS {image.mean_oks:.3f}  [{per_person}]"
        )
    print(
        f"people matched {report.num_matched}/{report.num_people}; "
        f"mean OKS over matched {report.mean_matched_oks:.3f}, "
        f"over all people (missed = 0) {report.mean_oks:.3f}"
    )
    print(f"AP (OKS .50:.95) {report.ap:.3f}  AP50 {report.ap50:.3f}  AP75 {report.ap75:.3f}")
    print(f"time per image {seconds_per_image * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco-dir", type=Path, default=DEFAULT_COCO_DIR)
    parser.add_argument("--annotations", default="test_coco.json")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per image (the fastest counts)")
    args = parser.parse_args()

    images, people = load_coco_keypoints(json.loads((args.coco_dir / args.annotations).read_text()))
    pixels = {
        image_id: np.asarray(Image.open(args.coco_dir / entry["file_name"]).convert("RGB"))
        for image_id, entry in images.items()
    }
    # Boxes of the counted people, (x, y, w, h) -> corners.
    boxes = {
        image_id: np.array([[*a.bbox[:2], *(a.bbox[:2] + a.bbox[2:]), 1.0] for a in persons if not a.ignore])
        for image_id, persons in people.items()
    }

    with BlazePoseDetector() as detector:
        detector.detect(next(iter(pixels.values())))  # build the graph before timing
        for protocol in ("boxes", "image"):
            detections: dict[int, list[KeypointDetection]] = {}
            best_times = []
            for image_id, image in pixels.items():
                times = []
                for _ in range(max(1, args.repeats)):
                    start = time.perf_counter()
                    if protocol == "boxes":
                        poses = [p for p in detector.detect_in_boxes(image, boxes[image_id]) if p is not None]
                    else:
                        poses = detector.detect(image)
                    times.append(time.perf_counter() - start)
                best_times.append(min(times))
                detections[image_id] = [as_detection(p) for p in poses]
            report = evaluate(detections, people)
            title = (
                "BlazePose on crops around the annotated boxes (time: all people of an image)"
                if protocol == "boxes"
                else "BlazePose on the whole image (every person)"
            )
            print_report(title, report, float(np.mean(best_times)))


if __name__ == "__main__":
    main()
