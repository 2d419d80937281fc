"""Persona generation: Meta personas from a reconstructed joint, and the LLM-written tiers."""

from ._meta import sample_meta_personas

__all__ = ["sample_meta_personas"]
