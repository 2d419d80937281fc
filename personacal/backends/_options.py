"""Pure kernels that turn token log-probabilities into option log-probabilities.

An option ``"A"`` can be the first token of a reply in two ways: as the bare
token ``"A"`` or as ``" A"`` (tokenizers that fold the leading space into the
word). Both count, so an option's log-probability is the logsumexp over both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

__all__ = ["option_forms", "combine_token_logprobs", "unseen_mass"]


def option_forms(option: str) -> tuple[str, str]:
    """The two first-token spellings that count as choosing ``option``."""
    return (option, " " + option)


def combine_token_logprobs(
    options: Sequence[str], tokens: Sequence[str], logprobs: np.ndarray
) -> np.ndarray:
    """Option log-probabilities from (token string, logprob) pairs.

    Every returned token whose text is ``option`` or ``" " + option`` adds its
    probability to that option; an option with no matching token is ``-inf``.
    Duplicate token strings (distinct ids that decode alike) all count.
    """
    logprobs = np.asarray(logprobs, dtype=float)
    out = np.full(len(options), -np.inf)
    for k, option in enumerate(options):
        forms = option_forms(option)
        hit = np.fromiter((t in forms for t in tokens), dtype=bool, count=len(tokens))
        if hit.any():
            out[k] = logsumexp(logprobs[hit])
    return out


def unseen_mass(reported_logprobs: np.ndarray) -> float:
    """Probability mass outside the tokens a server reported (its top-k)."""
    reported = np.asarray(reported_logprobs, dtype=float)
    if reported.size == 0:
        return 1.0
    return float(max(0.0, 1.0 - np.exp(logsumexp(reported))))
