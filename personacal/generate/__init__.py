"""Persona generation: Meta personas from a reconstructed joint, and the LLM-written tiers."""

from ._consistency import ConsistencyReport, find_contradictions
from ._meta import sample_meta_personas
from ._tier_result import TierResult
from ._tiers import generate_tier

__all__ = ["sample_meta_personas", "generate_tier", "TierResult", "find_contradictions", "ConsistencyReport"]
