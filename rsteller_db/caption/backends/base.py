"""The interface every caption back end implements, and the values that cross it.

A back end turns a list of rendered prompts (``Job``) into one ``Completion`` each. The runner
decides batching and concurrency: it calls ``generate`` with at most ``max_batch`` jobs, from at
most ``max_concurrency`` threads at once (``None``: as many as ``--concurrency`` asks).
A transport problem that outlived the retries is a ``Completion`` with ``error`` set, never an
exception, so one bad request cannot stop a run; ``start`` raises ``BackendError`` when the
back end cannot work at all (server unreachable, model missing), before anything is written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ...errors import RstellerError


class BackendError(RstellerError):
    """A back end cannot start: unreachable server, missing model or missing extra."""


@dataclass(frozen=True)
class Sampling:
    """Generation settings, stored as JSON beside every caption (the seed is per job)."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 160

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """One prompt to complete. ``key`` is the caption id the answer will be stored under."""

    key: str
    task: int
    prompt: str
    seed: int
    payload: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Completion:
    text: str | None
    annotator: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_s: float = 0.0
    error: str | None = None  # set when the request failed after its retries


PROMPT_MODES = ("auto", "chat", "completion")
# A raw completion stops at the end of its paragraph: the prompt ends with "Caption:" or
# "New caption:", and the next line would be the model inventing another example.
COMPLETION_STOP = ("\n",)


@dataclass(frozen=True)
class BackendOptions:
    """What a user can pass to any back end; each one reads the fields it understands.

    ``prompt_mode``: ``chat`` (the prompt is one user message, wrapped in the model's own chat
    template), ``completion`` (the prompt is raw text the model continues, stopping at the end
    of the line; for base models), ``auto`` (the back end's or model's default).
    ``constrain``: ``auto`` (the back end's native form), ``none``, or one of ``grammar``,
    ``regex``, ``json_schema`` (see ``caption.constrain``)."""

    urls: tuple[str, ...] = ()
    model: str | None = None
    sampling: Sampling = Sampling()
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 0.5
    chat_format: str = "auto"
    prompt_mode: str = "auto"
    constrain: str = "auto"
    threads: int = 0  # CPU threads of an embedded model (0: all cores); the `threads` setting


class Backend(ABC):
    """A caption back end. Subclasses set ``name`` and are registered with ``@register``."""

    name: ClassVar[str]
    max_batch: ClassVar[int] = 1
    max_concurrency: ClassVar[int | None] = None
    needs_url: ClassVar[bool] = False
    # the constrained-decoding forms this back end can send; the first is what "auto" means
    constraints: ClassVar[tuple[str, ...]] = ("none",)
    default_prompt_mode: ClassVar[str] = "chat"

    def __init__(self, options: BackendOptions):
        self.options = options
        self.annotator = "unknown"
        if options.prompt_mode not in PROMPT_MODES:
            raise BackendError(
                f"unknown --prompt-mode {options.prompt_mode!r}: choose among "
                + ", ".join(PROMPT_MODES)
            )
        if options.constrain not in ("auto", "none", *self.constraints):
            raise BackendError(
                f"the {self.name} back end cannot constrain decoding with "
                f"{options.constrain!r}: choose --constrain among auto, none"
                + "".join(f", {c}" for c in self.constraints if c != "none")
            )

    @property
    def sampling(self) -> Sampling:
        return self.options.sampling

    @property
    def prompt_mode(self) -> str:
        """``chat`` or ``completion``."""
        mode = self.options.prompt_mode
        return self.default_prompt_mode if mode == "auto" else mode

    @property
    def constraint(self) -> str:
        """``none``, ``grammar``, ``regex`` or ``json_schema``."""
        wanted = self.options.constrain
        return self.constraints[0] if wanted == "auto" else wanted

    def decoding(self) -> dict[str, Any]:
        """How prompts are sent, stored beside every caption with the sampling settings."""
        return {"prompt_mode": self.prompt_mode, "constrain": self.constraint}

    def start(self) -> str:
        """Check the back end can work (reach the server, load the model); return the annotator."""
        return self.annotator

    @abstractmethod
    def generate(self, jobs: list[Job]) -> list[Completion]:
        """One completion per job, in order."""

    def describe(self) -> str:
        """Where captions come from, for the run record (URLs or model path)."""
        return ", ".join(self.options.urls) or (self.options.model or self.name)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sockets, models, processes."""
