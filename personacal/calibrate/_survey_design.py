"""A survey design — design weights, strata, clusters (PSUs), fpc — carried through the weighting.

``SurveyDesign`` is R survey's ``svydesign`` object: it holds the sample and how
it was drawn, and every weighting function of this package (``rake``,
``calibrate``, ``poststratify``, ``trim``) accepts one and returns it, weighted,
on ``result.design``, with a record of the step that the standard errors use.
Estimates (:meth:`SurveyDesign.mean`, :meth:`~SurveyDesign.total`,
:meth:`~SurveyDesign.proportion`) come with design-based standard errors:
Taylor linearisation of the calibration estimator, or replicate weights
(:meth:`SurveyDesign.with_replicates`) with the weighting redone on every
replicate. The numbers equal R survey 4.1.1's (tests/test_survey_design_vs_r.py).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd

from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, Interval, Options, check_params
from ..errors import ConvergenceWarning, MissingValueError, SurveyDesignError
from ._design_steps import DesignStep
from ._design_variance import LONELY_PSU_RULES, design_vcov, stage_sample_sizes
from ._encode import check_design_weights
from ._linearization import residualize
from ._replicates import REPLICATE_KINDS, ReplicateWeights, make_replicates
from ._survey_estimates import SurveyEstimate, estimate

__all__ = ["SurveyDesign", "weighting_input"]

FUNC = "SurveyDesign"
_COLUMNS = [None, InstanceOf(str, list, tuple, name="a column name or a list of column names (one per stage)")]


def _column_list(value) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _codes(values: pd.Series) -> np.ndarray:
    return pd.factorize(values, sort=True)[0].astype(np.int64)


def _combine(*codes: np.ndarray) -> np.ndarray:
    """One code per distinct combination of the given non-negative code columns (sorted like the tuples)."""
    key = codes[0].astype(np.int64)
    for more in codes[1:]:
        key = key * (int(more.max(initial=0)) + 1) + more
    return pd.factorize(key, sort=True)[0].astype(np.int64)


class SurveyDesign:
    """A probability sample and its design, as R survey's ``svydesign``.

    Parameters
    ----------
    data
        One row per sampled unit.
    weights
        Design weights: a column name, a Series aligned to ``data`` or an array.
        None: ``1 / probs`` if given, else the inverse sampling fractions implied
        by ``fpc`` (as R), else 1 for every unit.
    probs
        Inclusion probabilities instead of ``weights`` (a column, Series or array).
    strata
        Stratum column (or one per stage); None for an unstratified design.
    clusters
        Cluster (PSU) column, or a list of columns for a multistage design
        (``["dnum", "snum"]``: districts, then schools). None: every unit is its
        own PSU (R's ``id=~1``).
    fpc
        Finite population correction per stage, as a column: values above 1 are
        population sizes (number of PSUs in the stratum), values at most 1 are
        sampling fractions, as R reads them. Constant within a stratum.
    lonely_psu
        What a stratum with a single PSU contributes to a variance (R's
        ``options(survey.lonely.psu=)``): "fail" (default, raises),
        "certainty" / "remove" (nothing), "adjust" (centred at 0), "average".
    nest
        Cluster labels repeat across strata (R's ``nest=TRUE``): a cluster is
        then a (stratum, cluster) pair. Without it, clusters that cross strata raise.

    The weighting functions return a new design (``result.design``); a design
    is never changed in place.
    """

    def __init__(self, data: pd.DataFrame, *, weights=None, probs=None, strata=None, clusters=None, fpc=None,
                 lonely_psu: str = "fail", nest: bool = False):
        check_params(FUNC, {"data": InstanceOf(pd.DataFrame, name="a pandas DataFrame"), "strata": _COLUMNS,
                            "clusters": _COLUMNS, "fpc": _COLUMNS, "lonely_psu": Options(LONELY_PSU_RULES),
                            "nest": InstanceOf(bool, name="True or False")},
                     {"data": data, "strata": strata, "clusters": clusters, "fpc": fpc, "lonely_psu": lonely_psu,
                      "nest": nest})
        if len(data) == 0:
            raise SurveyDesignError("`data` of SurveyDesign has no rows")
        if weights is not None and probs is not None:
            raise SurveyDesignError("give `weights` or `probs` to SurveyDesign, not both")
        self._data = data
        self._spec = {"strata": _column_list(strata), "clusters": _column_list(clusters), "fpc": _column_list(fpc)}
        for role, names in self._spec.items():
            for name in names:
                self._design_column(name, role)
        self._lonely_psu = lonely_psu
        self._build_stages(nest)
        base = self._initial_weights(weights, probs)
        self._base = base
        self._weights = base
        self._steps: tuple[DesignStep, ...] = ()
        self._replicates: ReplicateWeights | None = None
        self._replicate_weights: np.ndarray | None = None
        self._replicate_failures: tuple[int, ...] = ()

    # ------------------------------------------------------------------ construction
    def _design_column(self, name: str, role: str) -> pd.Series:
        if name not in self._data.columns:
            raise SurveyDesignError(f"`{role}` of SurveyDesign names column {name!r}, which `data` lacks")
        column = self._data[name]
        if column.isna().any():
            raise MissingValueError(f"{role} column {name!r} has {int(column.isna().sum())} missing value(s); every "
                                    "sampled unit needs one")
        return column

    def _build_stages(self, nest: bool) -> None:
        strata_cols, cluster_cols, fpc_cols = self._spec["strata"], self._spec["clusters"], self._spec["fpc"]
        n = len(self._data)
        stages = max(len(cluster_cols), 1)
        for role, cols in (("strata", strata_cols), ("fpc", fpc_cols)):
            if len(cols) > stages:
                raise SurveyDesignError(f"`{role}` of SurveyDesign has {len(cols)} columns for {stages} stage(s) of "
                                        "clusters; give at most one per stage")
        strata = np.zeros((n, stages), dtype=np.int64)
        clusters = np.zeros((n, stages), dtype=np.int64)
        for k in range(stages):
            own = _codes(self._data[strata_cols[k]]) if k < len(strata_cols) else np.zeros(n, dtype=np.int64)
            # later stages are stratified within the earlier stage's clusters (R's multistage recursion)
            strata[:, k] = own if k == 0 else _combine(strata[:, k - 1], clusters[:, k - 1], own)
            raw = _codes(self._data[cluster_cols[k]]) if k < len(cluster_cols) else np.arange(n, dtype=np.int64)
            if k == 0 and not nest and strata_cols:
                pairs = np.unique(raw * (int(strata[:, 0].max()) + 1) + strata[:, 0])
                crossing = np.bincount(pairs // (int(strata[:, 0].max()) + 1))
                if (crossing > 1).any():
                    label = self._data[cluster_cols[0]].to_numpy()[np.flatnonzero(raw == crossing.argmax())[0]]
                    raise SurveyDesignError(
                        f"clusters are not nested in strata at stage 1: cluster {label!r} of {cluster_cols[0]!r} lies "
                        "in several strata. Pass nest=True if cluster labels are only unique within a stratum")
            clusters[:, k] = _combine(strata[:, k], raw)
        self._strata, self._clusters = strata, clusters
        self._sampsize = stage_sample_sizes(strata, clusters)
        self._popsize = None
        if fpc_cols:
            popsize = np.full((n, stages), np.inf)
            for k, name in enumerate(fpc_cols):
                popsize[:, k] = self._population_sizes(name, k)
            self._popsize = popsize

    def _population_sizes(self, name: str, stage: int) -> np.ndarray:
        values = self._design_column(name, "fpc")
        if not pd.api.types.is_numeric_dtype(values):
            raise SurveyDesignError(f"fpc column {name!r} must hold numbers; got {values.dtype}")
        values = values.to_numpy(dtype=float)
        stratum = self._strata[:, stage]
        spread = pd.Series(values).groupby(stratum).agg(["min", "max"])
        varying = spread.index[spread["min"] != spread["max"]]
        if len(varying):
            row = np.flatnonzero(stratum == varying[0])[0]
            raise SurveyDesignError(f"fpc column {name!r} varies within a stratum (stage {stage + 1}, the stratum of "
                                    f"row {self._data.index[row]!r}); it must be one number per stratum")
        if (values < 0).any():
            raise SurveyDesignError(f"fpc column {name!r} has negative values; give population sizes or fractions")
        n_h = self._sampsize[:, stage]
        with np.errstate(divide="ignore"):
            popsize = n_h / values if (values <= 1).all() else values
        if (popsize < n_h).any():
            row = int(np.flatnonzero(popsize < n_h)[0])
            raise SurveyDesignError(
                f"fpc column {name!r} implies a population of {popsize[row]:g} PSUs where {n_h[row]:g} were sampled "
                f"(stage {stage + 1}, row {self._data.index[row]!r}); give population sizes >= sample sizes")
        return popsize

    def _initial_weights(self, weights, probs) -> np.ndarray:
        if probs is not None:
            p = check_design_weights(probs, self._data, FUNC)
            if (p <= 0).any() or (p > 1).any():
                raise SurveyDesignError("`probs` of SurveyDesign must lie in (0, 1]")
            return 1.0 / p
        if weights is not None:
            return check_design_weights(weights, self._data, FUNC)
        if self._popsize is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(np.isinf(self._popsize), 1.0, self._popsize / self._sampsize)
            return ratio.prod(axis=1)
        return np.ones(len(self._data))

    def _derived(self, **changes) -> "SurveyDesign":
        out = copy.copy(self)
        for key, value in changes.items():
            setattr(out, f"_{key}", value)
        return out

    # ------------------------------------------------------------------ facts
    @property
    def data(self) -> pd.DataFrame:
        return self._data

    @property
    def weights(self) -> pd.Series:
        """The current weights (after every weighting step)."""
        return pd.Series(self._weights, index=self._data.index, name="weight")

    @property
    def design_weights(self) -> pd.Series:
        """The weights the design started from (before any weighting step)."""
        return pd.Series(self._base, index=self._data.index, name="design_weight")

    @property
    def steps(self) -> tuple[str, ...]:
        """The weighting steps done on this design, in order."""
        return tuple(step.label for step in self._steps)

    @property
    def lonely_psu(self) -> str:
        return self._lonely_psu

    @property
    def stages(self) -> int:
        return self._strata.shape[1]

    @property
    def n_strata(self) -> int:
        return int(self._strata[:, 0].max()) + 1

    @property
    def n_psu(self) -> int:
        return int(self._clusters[:, 0].max()) + 1

    @property
    def replicates(self) -> ReplicateWeights | None:
        return self._replicates

    @property
    def replicate_weights(self) -> pd.DataFrame | None:
        """The analysis replicate weights (n, R), weighted like the design, or None."""
        if self._replicate_weights is None:
            return None
        return pd.DataFrame(self._replicate_weights, index=self._data.index,
                            columns=[f"rep{r + 1}" for r in range(self._replicate_weights.shape[1])])

    @property
    def calibrated(self) -> bool:
        """True once a step with a linearisation record was done (R: ``postStrata`` not empty)."""
        return any(step.residual is not None or step.stage_projections for step in self._steps)

    def describe(self) -> str:
        """One line: strata, PSUs, stages, fpc, replicates."""
        parts = [f"{self.n_strata} strata" if self._spec["strata"] else "unstratified",
                 f"{self.n_psu} PSUs" if self._spec["clusters"] else f"{len(self._data)} units, no clusters"]
        if self.stages > 1:
            parts.append(f"{self.stages} stages")
        parts.append("fpc" if self._popsize is not None else "with replacement (no fpc)")
        if self._replicates is not None:
            parts.append(f"{self._replicates.n_replicates} {self._replicates.kind} replicates")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return one_line_repr(self, rows=len(self._data), strata=self.n_strata, psus=self.n_psu, stages=self.stages,
                             fpc=self._popsize is not None, steps=list(self.steps),
                             replicates=None if self._replicates is None else self._replicates.kind)

    def summary(self) -> Summary:
        w = self._weights
        facts = {"rows": len(self._data), "design": self.describe(), "strata columns": self._spec["strata"] or "none",
                 "cluster columns": self._spec["clusters"] or "none (each unit a PSU)",
                 "fpc columns": self._spec["fpc"] or "none", "lonely PSU rule": self._lonely_psu,
                 "weighting steps": ", ".join(self.steps) or "none", "sum of weights": float(w.sum()),
                 "weight range": f"[{w.min():.6g}, {w.max():.6g}]"}
        notes = []
        if self._replicate_failures:
            notes.append(f"{len(self._replicate_failures)} replicate(s) did not converge in a weighting step and keep "
                         f"their last iterate (R only warns): {list(self._replicate_failures)[:10]}")
        return Summary("personacal survey design", facts, {}, notes)

    def to_frame(self) -> pd.DataFrame:
        """The data with the current weights in a ``weight`` column."""
        return self._data.assign(weight=self._weights)

    # ------------------------------------------------------------------ weighting
    def with_step(self, weights: np.ndarray, step: DesignStep) -> "SurveyDesign":
        """A copy weighted by one more step (used by the weighting functions; replicates redone)."""
        replicate_weights, failures = self._replicate_weights, self._replicate_failures
        if replicate_weights is not None:
            replicate_weights, failed = step.reweight(replicate_weights)
            failures = tuple(sorted(set(failures) | set(failed)))
            _warn_failures(step.label, failed, replicate_weights.shape[1])
        return self._derived(weights=np.asarray(weights, dtype=float), steps=self._steps + (step,),
                             replicate_weights=replicate_weights, replicate_failures=failures)

    def with_replicates(self, kind: str = "auto", *, replicates: int = 50, random_state=None,
                        mse: bool = False) -> "SurveyDesign":
        """The design with replicate weights (R's ``as.svrepdesign``), every weighting step redone on them.

        ``kind``: "JK1" (unstratified designs), "JKn" (stratified), "bootstrap"
        (Canty–Davison, ``replicates`` draws from ``random_state``) or "auto"
        (JKn when stratified, else JK1). Replicates follow the first-stage
        strata, PSUs and fpc. ``mse=True`` centres the variance at the full-sample
        estimate instead of the replicates' mean (R's ``mse=TRUE``).
        """
        check_params(f"{FUNC}.with_replicates", {"kind": Options(("auto", *REPLICATE_KINDS)),
                                                 "replicates": Interval("int", 2, None),
                                                 "mse": InstanceOf(bool, name="True or False")},
                     {"kind": kind, "replicates": replicates, "mse": mse})
        stratified = bool(self._spec["strata"])
        if kind == "auto":
            kind = "JKn" if stratified else "JK1"
        popsize = None if self._popsize is None else self._popsize[:, 0]
        reps = make_replicates(kind, self._clusters[:, 0], strata=self._strata[:, 0] if stratified else None,
                               popsize=popsize, lonely_psu=self._lonely_psu, replicates=replicates,
                               random_state=random_state)
        if mse:
            reps = ReplicateWeights(reps.multipliers, reps.scale, reps.rscales, reps.kind, mse=True)
        return self._with_replicate_multipliers(reps)

    def with_replicate_weights(self, replicate_weights, *, scale: float, rscales=None, kind: str = "other",
                               multipliers: bool = False, mse: bool = False) -> "SurveyDesign":
        """The design with replicate weights that come with the data (R's ``svrepdesign``).

        ``replicate_weights``: (n, R) array or DataFrame, or a list of columns of ``data``; analysis
        weights, or with ``multipliers=True`` factors of the design weights (R's
        ``combined.weights=FALSE``). They are taken as replicates of the design *before* its
        weighting steps, which are redone on them. The variance is
        ``scale · Σᵣ rscalesᵣ (θᵣ − θ̄)²`` (``rscales`` default 1; ``mse``: centred at the estimate).
        """
        func = f"{FUNC}.with_replicate_weights"
        check_params(func, {"scale": Interval("real", 0, None, closed="neither"),
                            "kind": InstanceOf(str, name="a label"), "mse": InstanceOf(bool, name="True or False"),
                            "multipliers": InstanceOf(bool, name="True or False")},
                     {"scale": scale, "kind": kind, "mse": mse, "multipliers": multipliers})
        if isinstance(replicate_weights, (list, tuple)) and all(isinstance(c, str) for c in replicate_weights):
            replicate_weights = self._data[list(replicate_weights)]
        table = np.asarray(replicate_weights, dtype=float)
        if table.ndim != 2 or table.shape[0] != len(self._data) or table.shape[1] < 2:
            raise SurveyDesignError(f"`replicate_weights` of {func} must be (n, R) with n = {len(self._data)} rows "
                                    f"and R >= 2 replicates; got shape {table.shape}")
        if not np.isfinite(table).all() or (table < 0).any():
            raise SurveyDesignError(f"`replicate_weights` of {func} must be finite and >= 0")
        rscales = np.ones(table.shape[1]) if rscales is None else np.asarray(rscales, dtype=float)
        if rscales.shape != (table.shape[1],):
            raise SurveyDesignError(f"`rscales` of {func} needs one value per replicate ({table.shape[1]})")
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = table if multipliers else np.where(self._base[:, None] > 0, table / self._base[:, None], 0.0)
        reps = ReplicateWeights(factors, float(scale), rscales, kind, mse=mse)
        return self._with_replicate_multipliers(reps)

    def _with_replicate_multipliers(self, reps: ReplicateWeights) -> "SurveyDesign":
        weights = self._base[:, None] * reps.multipliers
        failures: set[int] = set()
        for step in self._steps:
            weights, failed = step.reweight(weights)
            failures |= set(failed)
            _warn_failures(step.label, failed, weights.shape[1])
        return self._derived(replicates=reps, replicate_weights=weights, replicate_failures=tuple(sorted(failures)))

    def calibrate(self, margins, **options) -> "SurveyDesign":
        """``calibrate(self, margins, **options).design``."""
        from ._calibrate import calibrate

        return calibrate(self, margins, **options).design

    def rake(self, margins, **options) -> "SurveyDesign":
        """``rake(self, margins, **options).design``."""
        from ._rake import rake

        return rake(self, margins, **options).design

    def poststratify(self, table, **options) -> "SurveyDesign":
        """``poststratify(self, table, **options).design``."""
        from ._poststratify import poststratify

        return poststratify(self, table, **options).design

    def trim(self, **options) -> "SurveyDesign":
        """``trim(self, **options).design`` (R's ``trimWeights`` with ``rule="additive"``)."""
        from ._trim import trim

        return trim(self, **options).design

    # ------------------------------------------------------------------ estimation
    def mean(self, y, *, group=None, level: float = 0.95, interval_method: str | None = None,
             na_rm: bool = False) -> SurveyEstimate:
        """Weighted means of the columns ``y`` (a name or a list), overall or by ``group`` (R's ``svymean`` /
        ``svyby``), with design-based standard errors. A categorical column gives the share of each category.

        ``interval_method``: None (replicates if the design has them, else linearisation),
        "linearization" or "replicate". ``na_rm``: leave out rows where y is missing (a domain, as R).
        """
        return estimate(self, "mean", y, group=group, level=level, interval_method=interval_method, na_rm=na_rm)

    def total(self, y, *, group=None, level: float = 0.95, interval_method: str | None = None,
              na_rm: bool = False) -> SurveyEstimate:
        """Weighted totals of the columns ``y`` (R's ``svytotal``); see :meth:`mean`."""
        return estimate(self, "total", y, group=group, level=level, interval_method=interval_method, na_rm=na_rm)

    def proportion(self, y, *, group=None, level: float = 0.95, interval_method: str | None = None,
                   na_rm: bool = False) -> SurveyEstimate:
        """The share of every category of the columns ``y`` (numbers are read as categories); see :meth:`mean`."""
        return estimate(self, "proportion", y, group=group, level=level, interval_method=interval_method,
                        na_rm=na_rm)

    def linearized_vcov(self, z, *, present=None, diagonal: bool = False, overwrite: bool = False) -> np.ndarray:
        """Design covariance of the totals Σᵢ zᵢ of influence values z (n, k), after taking this design's
        weighting steps out of them (Taylor linearisation, R's ``svyrecvar``).

        For the mean of y, zᵢ = wᵢ(yᵢ − ȳ)/Σw; for a ratio of totals Y/X, zᵢ = wᵢ(yᵢ − R̂xᵢ)/X̂. ``present``:
        rows of the analysed subset of an uncalibrated design (strata without such rows are left out,
        as R does after subsetting). ``diagonal``: the variances only, (k,). ``overwrite``: z may be
        written over (spares an (n, k) copy when the caller no longer needs it).
        """
        z = np.asarray(z, dtype=float)
        z = z[:, None] if z.ndim == 1 else z
        if z.shape[0] != len(self._data):
            raise SurveyDesignError(f"`z` of linearized_vcov needs one row per unit ({len(self._data)}); got {z.shape}")
        z = residualize(z, [step.residual for step in self._steps if step.residual is not None], overwrite=overwrite)
        stage_projections: dict = {}
        for step in self._steps:
            for stage, blocks in step.stage_projections.items():
                stage_projections.setdefault(stage, {}).update(blocks)
        return design_vcov(z, self._strata, self._clusters, self._sampsize, self._popsize,
                           lonely_psu=self._lonely_psu, present=present, diagonal=diagonal,
                           stage_projections=stage_projections)

    def _arrays(self):
        """Weights, replicate weights and the replicate scales, for the estimators."""
        return self._weights, self._replicate_weights, self._replicates


def weighting_input(sample, weights, *, by, func: str):
    """(frame, design weights or None, design or None) of a weighting function's first argument."""
    if not isinstance(sample, SurveyDesign):
        return sample, None, None
    if weights is not None:
        raise SurveyDesignError(f"`weights` of {func} come from the SurveyDesign (its current weights); drop weights=")
    if by is not None:
        raise SurveyDesignError(f"`by` of {func} is not available with a SurveyDesign; weight each region's design "
                                "on its own, or calibrate on region x margin cells")
    return sample.data, sample._weights.copy(), sample


def _warn_failures(label: str, failed, n_replicates: int) -> None:
    if len(failed):
        warnings.warn(f"{label}: {len(failed)} of {n_replicates} replicates did not converge and keep their last "
                      f"iterate (R only warns): replicates {list(failed)[:10]}", ConvergenceWarning, stacklevel=4)
