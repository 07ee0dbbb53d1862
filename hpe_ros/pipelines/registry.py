"""Pipelines by name, each with its options and their defaults.

Nodes declare one ROS parameter ``pipeline.<option>`` per option of the chosen pipeline, with
the default given here, so ``config/*.yaml`` and the command line set them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpe_ros.pipelines.base import Pipeline

OptionValue = str | int | float | bool


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    input_kind: str  # "image" or "events"
    defaults: dict[str, OptionValue]
    build: Callable[..., Pipeline]
    summary: str


_SPECS: dict[str, PipelineSpec] = {}


def register_pipeline(name: str, input_kind: str, defaults: dict[str, OptionValue], summary: str
                      ) -> Callable[[Callable[..., Pipeline]], Callable[..., Pipeline]]:
    """Decorator: ``build(**options)`` creates the pipeline ``name``."""

    def decorate(build: Callable[..., Pipeline]) -> Callable[..., Pipeline]:
        _SPECS[name] = PipelineSpec(name, input_kind, dict(defaults), build, summary)
        return build

    return decorate


def pipeline_specs() -> dict[str, PipelineSpec]:
    return dict(sorted(_SPECS.items()))


def pipeline_spec(name: str) -> PipelineSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise ValueError(f"unknown pipeline {name!r}; available: {', '.join(sorted(_SPECS))}") from None


def create_pipeline(name: str, options: dict[str, Any] | None = None) -> Pipeline:
    """Build pipeline ``name``; ``options`` override its defaults, unknown keys are an error."""
    spec = pipeline_spec(name)
    options = dict(options or {})
    unknown = sorted(set(options) - set(spec.defaults))
    if unknown:
        raise ValueError(
            f"unknown option(s) for pipeline {name!r}: {unknown}; known: {sorted(spec.defaults)}"
        )
    merged = {**spec.defaults, **options}
    check_file_options(name, merged)
    return spec.build(**merged)


FILE_OPTION_SUFFIXES = ("_checkpoint", "_weights", "_path")


def check_file_options(pipeline: str, options: dict[str, Any]) -> None:
    """Refuse, naming the option and the path, a model or data file option set to a path that does
    not exist."""
    for option, value in sorted(options.items()):
        if (
            not (option == "path" or option.endswith(FILE_OPTION_SUFFIXES))
            or not isinstance(value, str)
            or not value
        ):
            continue
        if os.path.exists(value):
            continue
        message = (f"option {option} = {value}: not found (set {pipeline}.{option} to an existing file"
                   f"{'' if option == 'path' else ', or to an empty string for the default'})")
        if option.endswith(("_checkpoint", "_weights")):
            from hpe_ros.models.checkpoints import CheckpointError

            raise CheckpointError(message)
        raise FileNotFoundError(message)


@register_pipeline(
    "replay",
    input_kind="image",
    defaults={"path": "", "match": "sequence", "stamp_tolerance_s": 0.05, "with_ids": True},
    summary="re-publishes known 3D poses from an .npz file at each input's stamp (testing without networks)",
)
def _build_replay(path: str, match: str, stamp_tolerance_s: float, with_ids: bool = True,
                  input_kind: str = "image") -> Pipeline:
    from hpe_ros.pipelines.replay import ReplayPipeline

    if not path:
        name = "replay" if input_kind == "image" else "event_replay"
        raise ValueError(f"pipeline {name!r} needs option 'path' (an .npz file of 3D poses)")
    return ReplayPipeline(path, match=match, stamp_tolerance_s=stamp_tolerance_s, input_kind=input_kind,
                          with_ids=with_ids)


@register_pipeline(
    "event_replay",
    input_kind="events",
    defaults={"path": "", "match": "sequence", "stamp_tolerance_s": 0.05, "with_ids": True},
    summary="re-publishes known 3D poses from an .npz file at each event window's stamp "
    "(testing without networks)",
)
def _build_event_replay(path: str, match: str, stamp_tolerance_s: float, with_ids: bool = True) -> Pipeline:
    return _build_replay(path, match, stamp_tolerance_s, with_ids, input_kind="events")


@register_pipeline(
    "blazepose",
    input_kind="image",
    defaults={
        "lifter_weights": "",
        "min_person_score": 0.3,
        "video_mode": True,
        "max_people": 20,
        "redetect_every": 5,
        "tile_sides": "1.0,0.6",
        "smpl_model_path": "",
        "posh_checkpoint": "",
        "smpl_gender": "neutral",
        "publish_vertices": True,
    },
    summary="offline default: BlazePose 2D (every person, LiteRT) -> default context-agnostic lifter "
    "-> metric placement (-> SMPL mesh with smpl_model_path)",
)
def _build_blazepose(**options: Any) -> Pipeline:
    from hpe_ros.pipelines.rgb.blazepose_lifting import BlazePoseLiftingPipeline

    return BlazePoseLiftingPipeline(**options)


@register_pipeline(
    "eventhpe",
    input_kind="events",
    defaults={
        "flownet_checkpoint": "",
        "shapenet_checkpoint": "",
        "smpl_model_path": "",
        "smpl_gender": "neutral",
        "device": "cpu",
        "publish_vertices": True,
        "publish_flow": False,
        "input_size": 256,
        "intervals_per_window": 2,
        "clip_steps": 8,
        "initial_pelvis": "0.0,0.0,4.0",
        "backend": "auto",
        "int8_calibration": "",
    },
    summary="EventHPE: event frames -> FlowNet -> ShapeNet (GRU tracking from a rest pose) -> SMPL body",
)
def _build_eventhpe(**options: Any) -> Pipeline:
    from hpe_ros.pipelines.events.eventhpe import EventHPEPipeline

    return EventHPEPipeline(**options)


@register_pipeline(
    "topdown",
    input_kind="image",
    defaults={
        "box_source": "upstream",
        "box_detector": "whole_image",
        "bottom_up_checkpoint": "",
        "min_box_score": 0.3,
        "max_people": 10,
        "box_expand": 0.15,
        "redetect_every": 15,
        "pose_model": "hrnet_w32_heatmap",
        "pose_checkpoint": "",
        "input_size": "256x192",
        "protocol": "official",
        "flip_test": True,
        "simdr_split_ratio": 2.0,
        "lifter": "capf_hrnet32",
        "lifter_checkpoint": "",
        "lifter_flip_test": True,
        "backend": "auto",
        "device": "cpu",
        "allow_random_weights": False,
        "smpl_model_path": "",
        "posh_checkpoint": "",
        "smpl_gender": "neutral",
        "publish_vertices": True,
    },
    summary="top-down: person boxes -> HRNet/SimDR 2D (all people in one batch) -> Context-Aware "
    "PoseFormer on HRNet features (or a context-agnostic lifter) -> metric placement (-> SMPL mesh)",
)
def _build_topdown(**options: Any) -> Pipeline:
    from hpe_ros.pipelines.rgb.topdown import TopDownPipeline

    return TopDownPipeline(**options)
