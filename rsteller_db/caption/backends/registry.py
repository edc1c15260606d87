"""The back-end registry: a name maps to a class; no if/elif chains anywhere else."""

from __future__ import annotations

import importlib

from .base import Backend, BackendError, BackendOptions

_REGISTRY: dict[str, type[Backend]] = {}
_MODULES = ("template", "openai", "sglang", "local")


def register(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make a back end available under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(f"{__package__}.{module}")


def backend_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def backend_class(name: str) -> type[Backend]:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        names = ", ".join(sorted(_REGISTRY))
        raise BackendError(
            f"unknown caption back end {name!r}: choose --backend among {names}"
        ) from None


def create_backend(name: str, options: BackendOptions) -> Backend:
    cls = backend_class(name)
    if cls.needs_url and not options.urls:
        raise BackendError(f"the {name} back end needs a server: pass --url http://HOST:PORT")
    return cls(options)
