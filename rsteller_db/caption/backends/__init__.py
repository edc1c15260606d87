"""Caption back ends behind one interface (``base.Backend``), found by name in the registry."""

from .base import Backend, BackendError, BackendOptions, Completion, Job, Sampling
from .registry import backend_class, backend_names, create_backend, register

__all__ = [
    "Backend",
    "BackendError",
    "BackendOptions",
    "Completion",
    "Job",
    "Sampling",
    "backend_class",
    "backend_names",
    "create_backend",
    "register",
]
