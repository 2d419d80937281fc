"""The seed paper's experiments (arXiv 2503.16527), on any backend.

- :func:`progressive_degradation` -- (a) alignment by tier, Meta -> Objective -> Subjective ->
  Descriptive, each tier paired with Meta on the same personas; ``result.plot()`` draws it
- :func:`generation_simulation` -- (b) one model writes the tiers, another answers: the matrix
  tells generation-driven from simulation-driven bias
- :func:`attribute_ablation` -- (c) hide one persona field at a time, re-simulate, and measure the
  change in lean with an interval
- :func:`write_tiers` -- the Objective, Subjective and Descriptive tiers of Meta personas, written
  by one backend (what (a) and (b) score)

Every paired interval comes from :func:`personacal.evaluate.compare`'s paired persona
bootstrap. (d), text diagnostics per tier, is :func:`personacal.evaluate.text_diagnostics`.
The ``personacal experiment`` command runs (a)-(c) (``_cli``).
"""

from ._ablation import NEVER_ABLATED, AblationResult, attribute_ablation
from ._common import TIERS, write_tiers
from ._degradation import DegradationResult, progressive_degradation
from ._matrix import GenerationSimulationResult, generation_simulation

__all__ = [
    "TIERS",
    "write_tiers",
    "progressive_degradation",
    "DegradationResult",
    "generation_simulation",
    "GenerationSimulationResult",
    "attribute_ablation",
    "AblationResult",
    "NEVER_ABLATED",
]
