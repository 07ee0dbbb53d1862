"""Pictures of a result for people: the 2D overlay on the image and a 3D plot of the skeletons."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpe_ros.pipelines.base import PoseResult

_BONE_COLOUR = (255, 200, 40)
_JOINT_COLOUR = (40, 220, 255)


def draw_overlay(image: np.ndarray, result: PoseResult, path: Path) -> Path:
    """Save ``image`` with every person's 2D keypoints, bones and box drawn on it (PNG)."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    radius = max(2, image.shape[1] // 200)
    for person in result.people:
        if person.keypoints_2d is None:
            continue
        points = person.keypoints_2d
        scores = person.scores_2d if person.scores_2d is not None else np.ones(len(points))
        for parent, child in person.joint_set.bones:
            if scores[parent] > 0.2 and scores[child] > 0.2:
                draw.line([tuple(points[parent]), tuple(points[child])], fill=_BONE_COLOUR, width=radius)
        for (x, y), score in zip(points, scores):
            if score > 0.2:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=_JOINT_COLOUR)
        if person.box is not None:
            draw.rectangle(list(person.box[:4]), outline=(255, 80, 80), width=2)
    canvas.save(path)
    return path


def plot_3d(result: PoseResult, path: Path, title: str = "") -> Path:
    """Save a 3D plot of the skeletons (camera optical frame drawn with up = -y, depth = z)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(6, 6))
    axes = figure.add_subplot(projection="3d")
    for person in result.people:
        joints = person.joints_3d
        x, y, z = joints[:, 0], joints[:, 2], -joints[:, 1]  # right, forward, up
        for parent, child in person.joint_set.bones:
            axes.plot([x[parent], x[child]], [y[parent], y[child]], [z[parent], z[child]], color="tab:blue", lw=2)
        axes.scatter(x, y, z, color="tab:orange", s=12)
        centre = np.array([np.nanmean(x), np.nanmean(y), np.nanmean(z)])
        half = 1.0
        axes.set_xlim(centre[0] - half, centre[0] + half)
        axes.set_ylim(centre[1] - half, centre[1] + half)
        axes.set_zlim(centre[2] - half, centre[2] + half)
    axes.set_xlabel("x right (m)")
    axes.set_ylabel("z forward (m)")
    axes.set_zlabel("up (m)")
    axes.view_init(elev=10, azim=-70)
    axes.set_title(title)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
