"""One error and warning hierarchy for the whole package.

Every error carries a short machine-readable ``code`` so that the CLI and
callers can branch on it, and every message names the culprit (column,
category, margin, parameter) and says what to do about it.
"""

from __future__ import annotations

__all__ = [
    "PersonacalError",
    "InputError",
    "CalibrationError",
    "MarginTotalsError",
    "EmptyCategoryError",
    "UnknownCategoryError",
    "CategoryTypeError",
    "InvalidValueError",
    "MissingValueError",
    "StructuralInfeasibilityError",
    "InfeasibleBoundsError",
    "ConvergenceError",
    "SurveyDesignError",
    "DataError",
    "UnknownRegionError",
    "MappingError",
    "DistributionError",
    "MismatchError",
    "DegenerateScaleError",
    "BackendError",
    "BackendCapabilityError",
    "BackendRequestError",
    "SchemaValidationError",
    "PersonacalWarning",
    "ConvergenceWarning",
    "DiagnosticsWarning",
]


class PersonacalError(Exception):
    """Base class of every error raised on purpose by personacal."""

    code = "personacal"


class InputError(PersonacalError, ValueError):
    """A parameter or input table that breaks a documented constraint."""

    code = "bad-input"


class CalibrationError(InputError):
    """Base class of errors raised while calibrating weights or tables."""

    code = "calibration"


class MarginTotalsError(CalibrationError):
    """Margins whose population totals disagree with each other."""

    code = "margin-totals"


class EmptyCategoryError(CalibrationError):
    """A target category (or cell) that has no sample rows to carry it."""

    code = "empty-category"


class UnknownCategoryError(CalibrationError):
    """A sample category that the targets do not mention."""

    code = "unknown-category"


class CategoryTypeError(UnknownCategoryError):
    """Categories that would match by text but not by value (``"1"`` vs ``1``)."""

    code = "category-type"


class InvalidValueError(CalibrationError):
    """NaN, negative or non-finite targets, weights or seed cells."""

    code = "invalid-value"


class MissingValueError(CalibrationError):
    """A missing value in a column used for calibration."""

    code = "missing-value"


class StructuralInfeasibilityError(CalibrationError):
    """A zero pattern (empty seed cells, empty sample cells) that forbids the targets."""

    code = "structural-infeasible"


class InfeasibleBoundsError(CalibrationError):
    """Targets that cannot be met with weights inside the requested bounds."""

    code = "infeasible-bounds"

    def __init__(self, message: str, conflicting: list | None = None):
        super().__init__(message)
        self.conflicting = list(conflicting or [])


class ConvergenceError(PersonacalError, RuntimeError):
    """An iterative fit that stopped at ``max_iter`` before reaching ``tol``, or a sampler
    whose diagnostics say it did not converge.

    Not an :class:`InputError`: the input may be fine and the fit still stop short. The last
    iterate is kept on ``.result`` so it can be inspected.
    """

    code = "not-converged"

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class SurveyDesignError(InputError):
    """A survey design that cannot be built or used as asked: clusters not nested in strata, an fpc
    that varies within a stratum or implies a population smaller than the sample, a stratum with
    one PSU under ``lonely_psu="fail"``, or a replicate kind that does not fit the design (R
    survey's refusals)."""

    code = "survey-design"


class DataError(InputError):
    """Problems with the shipped data or with data loaded from a user's files."""

    code = "data"


class UnknownRegionError(DataError, KeyError):
    """A region (state) code that the shipped data does not hold."""

    code = "unknown-region"

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class MappingError(InputError):
    """A category with no entry in an explicit category mapping."""

    code = "unmapped-category"


class DistributionError(InputError):
    """Probabilities or shares that are NaN, negative, or do not sum to 1."""

    code = "bad-distribution"


class MismatchError(InputError):
    """Simulated and reference tables that disagree on questions, options, groups or states."""

    code = "mismatch"


class DegenerateScaleError(InputError):
    """An ordinal question whose answer positions span no distance (max == min)."""

    code = "degenerate-scale"


class BackendError(PersonacalError, RuntimeError):
    """Base class of LLM backend failures."""

    code = "backend"


class BackendCapabilityError(BackendError):
    """The backend or server does not offer a feature the call needs (e.g. logprobs)."""

    code = "backend-capability"


class BackendRequestError(BackendError):
    """A request that still failed after every allowed retry."""

    code = "backend-request"


class SchemaValidationError(BackendError):
    """LLM output that does not validate against the requested schema."""

    code = "schema-invalid"


class PersonacalWarning(UserWarning):
    """Base class of personacal's warnings."""


class ConvergenceWarning(PersonacalWarning):
    """Emitted when a fit did not converge and the caller asked to keep the last iterate."""


class DiagnosticsWarning(PersonacalWarning):
    """Emitted when diagnostics (R-hat, ESS, design effect) look bad."""
