"""Evaluate simulated persona populations against real outcomes.

- :func:`alignment` -- OpinionQA representativeness (1 - normalised W1 over ordinal answers)
- :func:`election_errors` -- per-state two-party share errors, lean and winner accuracy
- :func:`composition_error` -- persona composition vs census margins (1-D and joint)
- :func:`bootstrap` -- persona bootstrap (weights attached, optionally stratified)
"""

from ._alignment import AlignmentResult, alignment
from ._bootstrap import BootstrapResult, bootstrap
from ._composition import CompositionResult, composition_error
from ._elections import ElectionResult, election_errors
from ._wasserstein import normalized_wasserstein

__all__ = [
    "alignment",
    "AlignmentResult",
    "election_errors",
    "ElectionResult",
    "composition_error",
    "CompositionResult",
    "bootstrap",
    "BootstrapResult",
    "normalized_wasserstein",
]
