"""The registry's option defaults are the pipelines' own (nodes and the CLI take the registry's)."""

from __future__ import annotations

import inspect

import pytest

from hpe_ros.pipelines.registry import pipeline_specs


def _pipeline_classes() -> dict[str, type]:
    from hpe_ros.pipelines.events.eventhpe import EventHPEPipeline
    from hpe_ros.pipelines.rgb.blazepose_lifting import BlazePoseLiftingPipeline
    from hpe_ros.pipelines.rgb.topdown import TopDownPipeline

    return {"topdown": TopDownPipeline, "blazepose": BlazePoseLiftingPipeline, "eventhpe": EventHPEPipeline}


@pytest.mark.parametrize("name", ["topdown", "blazepose", "eventhpe"])
def test_registry_defaults_equal_the_pipeline_defaults(name: str) -> None:
    parameters = inspect.signature(_pipeline_classes()[name].__init__).parameters
    defaults = pipeline_specs()[name].defaults
    shared = [option for option in defaults
              if option in parameters and parameters[option].default is not inspect.Parameter.empty]
    assert len(shared) >= 3  # the comparison below must cover real options
    differing = {option: (defaults[option], parameters[option].default)
                 for option in shared if defaults[option] != parameters[option].default}
    assert differing == {}
