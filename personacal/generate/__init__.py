"""Persona generation: Meta personas from a reconstructed joint, and the LLM-written tiers.

- :func:`state_margins` / :func:`state_joints` -- a state's census margins of the Meta persona
  attributes and their reconstructed joint (one, several or all states);
- :func:`sample_meta_personas` -- whole persons drawn from a joint;
- :func:`generate_tier` -- LLM-written Objective / Subjective / Descriptive tiers (:class:`TierResult`),
  checked against the census attributes by :func:`find_contradictions` (:class:`ConsistencyReport`).
"""

from ._census_personas import state_joints, state_margins
from ._consistency import ConsistencyReport, find_contradictions
from ._meta import sample_meta_personas
from ._tier_result import TierResult
from ._tiers import generate_tier

__all__ = [
    "state_margins",
    "state_joints",
    "sample_meta_personas",
    "generate_tier",
    "TierResult",
    "find_contradictions",
    "ConsistencyReport",
]
