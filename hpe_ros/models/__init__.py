"""Networks in pure torch, one module per paper, created by name through the registry."""

from hpe_ros.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
