"""The one small protocol that generate/ and simulate/ depend on.

Every backend takes a whole batch and returns results in input order.
Sampling parameters are typed; per-request seeds are derived from a run seed
by the caller (see :func:`personacal._random.derive_seed`) or by the backend
from ``SamplingParams.seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import logsumexp

__all__ = ["SamplingParams", "GenerationOutput", "ChatMessage", "Prompt", "OptionScores", "Backend"]


class SamplingParams(BaseModel):
    """Decoding settings for one request (or for every request of a batch)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(256, ge=1)
    n: int = Field(1, ge=1, description="replies per prompt")
    seed: int | None = Field(None, ge=0, description="per-request seed; derived from the run seed when None")
    stop: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = Field(None, description="guided decoding: reply must match this JSON schema")
    choices: tuple[str, ...] | None = Field(None, description="guided decoding: reply must be one of these strings")

    @model_validator(mode="after")
    def _one_guide(self) -> "SamplingParams":
        if self.json_schema is not None and self.choices is not None:
            raise ValueError("SamplingParams takes json_schema or choices, not both")
        if self.choices is not None and len(self.choices) == 0:
            raise ValueError("SamplingParams.choices must not be empty")
        return self


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


#: A prompt is either raw text (completion style) or a list of chat messages.
Prompt = str | Sequence[ChatMessage]


@dataclass(frozen=True)
class GenerationOutput:
    """The replies to one prompt, in the order the backend produced them."""

    texts: tuple[str, ...]
    finish_reasons: tuple[str | None, ...] = ()
    n_prompt_tokens: int | None = None
    n_generated_tokens: int | None = None
    cached: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.texts[0]


@dataclass(frozen=True)
class OptionScores:
    """First-token log-probabilities of one prompt's answer options.

    ``logprobs[k]`` is the log-probability that the reply's first token is
    ``options[k]`` or ``" " + options[k]`` (both tokenisations count, combined
    with logsumexp). An option the backend did not see is ``-inf``.
    """

    options: tuple[str, ...]
    logprobs: np.ndarray
    #: probability mass of the first tokens the backend did not report: outside the server's top-k
    #: (OpenAI-compatible), or every token but the option tokens (vLLM offline, measured exactly);
    #: None where a backend cannot tell
    unseen_mass: float | None = 0.0
    cached: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def option_mass(self) -> float:
        """Total probability of all options; the rest went to other tokens."""
        return float(np.exp(logsumexp(self.logprobs))) if np.isfinite(self.logprobs).any() else 0.0

    @property
    def probs(self) -> np.ndarray:
        """The distribution over the options alone (renormalised to sum to 1)."""
        if not np.isfinite(self.logprobs).any():
            from ..errors import BackendCapabilityError

            raise BackendCapabilityError(
                f"none of the options {list(self.options)} was among the tokens the backend scored; "
                "raise `top_logprobs` of the backend or use single-token option labels"
            )
        return np.exp(self.logprobs - logsumexp(self.logprobs))


@runtime_checkable
class Backend(Protocol):
    """What generate/ and simulate/ need from an LLM."""

    model: str

    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams | Sequence[SamplingParams]
    ) -> list[GenerationOutput]:
        """One output per prompt, in input order."""
        ...

    def option_logprobs(self, prompts: Sequence[Prompt], options: Sequence[Sequence[str]]):
        """First-token log-probabilities of each prompt's option letters.

        Returns a list of float arrays, one per prompt, aligned with that
        prompt's ``options`` (e.g. ``["A", "B", "C"]``). Both the bare ("A")
        and the space-prefixed (" A") tokenisations count; an option whose
        tokens are absent from what the server returned is ``-inf`` (the
        missing-option rule), never silently renormalised away.
        """
        ...
