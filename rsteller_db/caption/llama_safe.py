"""Loading a GGUF with llama.cpp so that it runs on every x86-64 CPU.

Why: llama.cpp's CPU back end offers "extra buffer types" that repack the weights at load time
into layouts for special instructions. On Intel Xeons with AMX (llama.cpp prints
``AMX_INT8 = 1``) the weights go into the AMX buffer type, and with llama-cpp-python 0.3.36 the
first completion then dies with SIGSEGV inside ``ggml_backend_amx_mul_mat`` (an upstream,
machine-dependent bug). Machines without AMX never show it, so a green run elsewhere proves
nothing. Loading with the model parameter ``use_extra_bufts = False`` keeps the weights in the
plain CPU buffers: the same results, on every CPU, at a small cost on the machines that could
repack (the bench's tiny models do not notice).

``Llama(...)`` has no argument for that field: it fills its ``llama_model_params`` from
``llama_cpp.llama_cpp.llama_model_default_params()`` when it is built. ``plain_cpu_buffers()``
wraps that function once per process so every model loaded afterwards (in process, or by the
llama.cpp server this module launches) gets ``use_extra_bufts = False``.
"""

from __future__ import annotations

import functools

from .backends.base import BackendError

_MARK = "_rsteller_plain_cpu_buffers"


def plain_cpu_buffers() -> None:
    """Make every llama.cpp model loaded from now on in this process skip the repacked
    (AMX and other extra) buffer types. Idempotent."""
    try:
        import llama_cpp.llama_cpp as lib
    except ImportError as exc:
        raise BackendError(
            "llama.cpp is not installed: pip install 'rsteller-db[local]', "
            "or pick --backend template"
        ) from exc
    current = lib.llama_model_default_params
    if getattr(current, _MARK, False):
        return
    if "use_extra_bufts" not in dict(lib.llama_model_params._fields_):
        raise BackendError(
            "this llama-cpp-python has no use_extra_bufts model parameter, so the AMX "
            "safeguard cannot be applied: install the version pinned in requirements.lock"
        )

    @functools.wraps(current)
    def default_params():
        params = current()
        params.use_extra_bufts = False
        return params

    setattr(default_params, _MARK, True)
    lib.llama_model_default_params = default_params


def load_llama(model_path: str, **kwargs):
    """``llama_cpp.Llama(model_path, **kwargs)`` with the plain CPU buffers."""
    plain_cpu_buffers()
    from llama_cpp import Llama

    return Llama(model_path=model_path, **kwargs)


def effective_model_params() -> dict:
    """The model parameters a model loaded now would get (for the launcher's --print-params)."""
    plain_cpu_buffers()
    import llama_cpp.llama_cpp as lib

    params = lib.llama_model_default_params()
    return {"use_extra_bufts": bool(params.use_extra_bufts)}
