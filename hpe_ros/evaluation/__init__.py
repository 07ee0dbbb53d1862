"""Accuracy measured the way the field does: pose metrics, COCO keypoint AP, tracking (CLEAR-MOT, IDF1)."""
