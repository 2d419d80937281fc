"""Evaluate simulated persona populations against real outcomes.

- :func:`alignment` -- OpinionQA representativeness (1 - normalised W1 over ordinal answers)
- :func:`election_errors` -- per-state two-party share errors, lean and winner accuracy
- :func:`composition_error` -- persona composition vs census margins (1-D and joint)
- :func:`bootstrap` -- persona bootstrap (weights attached, optionally stratified)
- :func:`compare` -- raw vs calibrated personas, per tier, with a paired verdict per statistic
  (``improved``: True / False / :data:`NO_DETECTABLE_CHANGE`, from the interval of the change);
  :func:`write_report` -- HTML report of it, led by :func:`verdict_sentences`, and ``summary.json``
- :func:`poststratify_answers` -- answer distributions under calibrated persona weights (rake,
  poststratify) or MRP (:func:`mrp`), with weight diagnostics and intervals
- :func:`calibrate_tier` -- rake an LLM tier on census and psychographic survey targets jointly
- :func:`text_diagnostics` -- sentiment, subjectivity and life-experience terms of persona texts per tier,
  tiers compared persona by persona

One vocabulary: ``level`` is the confidence level (0.95), ``interval_method`` how an interval
is made, ``by`` the region column and ``group`` the grouping columns. (The old names ``ci``,
``ci_level`` and alignment's ``by`` work for one release, with a DeprecationWarning.)

Layout: one private module per job, holding the function, its checks and its result class
(``_compare``, ``_alignment``, ``_elections``, ``_composition``, ``_poststratify_answers``,
``_mrp``, ``_tier_calibration``, ``_bootstrap``); pure array kernels beside them
(``_alignment_kernels``, ``_poststratify_kernels``, ``_mrp_model``, ``_wasserstein``); shared
pieces (``_answers_table``: tidy answer tables; ``_weights``: weight-fact rows from
``personacal.calibrate.weight_diagnostics``; ``_tidy``: table checks); presentation
(``_report``, ``_plots``) and the ``personacal evaluate`` command (``_cli``). Other
subpackages are reached only through their public faces.
"""

from ._alignment import AlignmentResult, alignment
from ._bootstrap import BootstrapResult, bootstrap
from ._compare import DEFAULT_INTERVAL_METHOD, Comparison, compare
from ._verdict import NO_DETECTABLE_CHANGE, Verdict
from ._verdict_report import verdict_sentences
from ._composition import CompositionResult, composition_error
from ._elections import ElectionResult, election_errors
from ._report import write_report
from ._wasserstein import normalized_wasserstein
from ._mrp import mrp
from ._poststratify_answers import PoststratifiedAnswers, poststratify_answers
from ._tier_calibration import TierCalibrationResult, calibrate_tier
from ._text_diagnostics import text_diagnostics
from ._text_result import TextDiagnosticsResult

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
    "compare",
    "Comparison",
    "Verdict",
    "NO_DETECTABLE_CHANGE",
    "DEFAULT_INTERVAL_METHOD",
    "verdict_sentences",
    "write_report",
    "poststratify_answers",
    "PoststratifiedAnswers",
    "mrp",
    "calibrate_tier",
    "TierCalibrationResult",
    "text_diagnostics",
    "TextDiagnosticsResult",
]
