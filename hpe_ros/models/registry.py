"""Create networks by name: each model module registers its constructors with a decorator."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from torch import nn

_ModelFactory = TypeVar("_ModelFactory", bound=Callable[..., nn.Module])
_FACTORIES: dict[str, Callable[..., nn.Module]] = {}

# Modules whose import registers models; imported lazily so that `import hpe_ros.models`
# stays cheap and a broken optional model cannot break the others.
_MODEL_MODULES: tuple[str, ...] = (
    "hpe_ros.models.hrnet",
    "hpe_ros.models.simdr",
    "hpe_ros.models.swahr",
    "hpe_ros.models.capf",
    "hpe_ros.models.hemlets",
    "hpe_ros.models.hemlets_posh",
    "hpe_ros.models.eventhpe",
    "hpe_ros.models.lifter_baseline",
    "hpe_ros.models.simple_lifter",
)


def register_model(name: str) -> Callable[[_ModelFactory], _ModelFactory]:
    """Decorator: make ``factory`` available as ``create_model(name, **kwargs)``."""

    def decorate(factory: _ModelFactory) -> _ModelFactory:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise ValueError(f"model name {name!r} is registered twice")
        _FACTORIES[name] = factory
        return factory

    return decorate


def _import_model_modules() -> None:
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:  # the module exists but one of its imports is missing
                raise


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, sorted."""
    _import_model_modules()
    return sorted(_FACTORIES)


def create_model(name: str, **kwargs: object) -> nn.Module:
    """Build the network registered as ``name`` (random weights; load a checkpoint after)."""
    if name not in _FACTORIES:
        _import_model_modules()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(list_models())}") from None
    return factory(**kwargs)
