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
        for (x, y), score in zip(points, scores, strict=False):
            if score > 0.2:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=_JOINT_COLOUR)
        if person.box is not None:
            draw.rectangle(list(person.box[:4]), outline=(255, 80, 80), width=2)
    canvas.save(path)
    return path


def plot_3d(result: PoseResult, path: Path, title: str = "") -> Path:
    """Save a 3D plot of every skeleton, one colour each, with equal scales on the three axes
    (camera optical frame drawn with up = -y, depth = z)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(7, 6))
    axes = figure.add_subplot(projection="3d")
    colours = plt.get_cmap("tab10")
    everything = []
    for number, person in enumerate(result.people):
        joints = person.joints_3d
        x, y, z = joints[:, 0], joints[:, 2], -joints[:, 1]  # right, forward, up
        colour = colours(number % 10)
        for parent, child in person.joint_set.bones:
            axes.plot([x[parent], x[child]], [y[parent], y[child]], [z[parent], z[child]], color=colour, lw=2)
        axes.scatter(x, y, z, color=colour, s=10, label=f"person {number + 1}")
        everything.append(np.stack([x, y, z], axis=1))
    if everything:
        points = np.concatenate(everything)
        points = points[np.isfinite(points).all(axis=1)]
        low, high = points.min(axis=0), points.max(axis=0)
        centre, half = (low + high) / 2, max(0.6, float((high - low).max()) / 2 + 0.1)
        for setter, c in zip((axes.set_xlim, axes.set_ylim, axes.set_zlim), centre, strict=True):
            setter(c - half, c + half)
        axes.set_box_aspect((1, 1, 1))
        axes.legend(loc="upper left", fontsize=8)
    axes.set_xlabel("x right (m)")
    axes.set_ylabel("z forward (m)")
    axes.set_zlabel("up (m)")
    axes.view_init(elev=15, azim=-70)
    axes.set_title(title)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
