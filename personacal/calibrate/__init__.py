"""Calibration: raking, N-D IPF, GREG/logit calibration, min-distance, post-stratification, survey designs."""

from ._calibrate import calibrate
from ._diagnostics import WEIGHT_DIAGNOSTIC_LABELS, asmd, design_effect, kish_ess, weight_diagnostics, weight_ratio
from ._io import read_margins
from ._integerize import IntegerizeResult, controlled_round, integerize
from ._ipf import ipf
from ._joint import reconstruct_joint
from ._margins import Margin, Margins
from ._min_distance import min_distance
from ._poststratify import poststratify
from ._rake import rake
from ._stage_calibration import calibrate_within
from .._ray import RayExecutor
from ._results import JointResult, RegionalResult, TableResult, WeightingResult
from ._survey_design import SurveyDesign
from ._survey_estimates import SurveyEstimate
from ._trim import trim

__all__ = [
    "Margins",
    "Margin",
    "rake",
    "ipf",
    "calibrate",
    "calibrate_within",
    "min_distance",
    "poststratify",
    "trim",
    "SurveyDesign",
    "SurveyEstimate",
    "integerize",
    "controlled_round",
    "reconstruct_joint",
    "JointResult",
    "read_margins",
    "WeightingResult",
    "TableResult",
    "RegionalResult",
    "IntegerizeResult",
    "kish_ess",
    "design_effect",
    "weight_ratio",
    "asmd",
    "weight_diagnostics",
    "WEIGHT_DIAGNOSTIC_LABELS",
    "RayExecutor",
]
