"""Honest convergence: a result that misses a margin it was given says converged=False and reports the real error.

One test per method. The real error is recomputed here from the returned weights (or table),
not read from the code under test: per margin cell |achieved - target| / target, and for a
target of 0 the cell's mass over the margin's total (mass where the target says nobody lives
is an error). Methods that cannot return an unconverged result raise a typed error instead;
that is tested too. ``integerize`` makes no convergence claim (it rounds; its result reports
``max_abs_rounding``), so it has no test here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from personacal.calibrate import (
    Margins,
    calibrate,
    integerize,
    ipf,
    min_distance,
    poststratify,
    rake,
    reconstruct_joint,
    trim,
)
from personacal.errors import (
    ConvergenceError,
    ConvergenceWarning,
    EmptyCategoryError,
    InfeasibleBoundsError,
    StructuralInfeasibilityError,
)

# Every x is a u and every y a v: no weights give a = 50/50 together with b = 30/70.
LOCKED = pd.DataFrame({"a": ["x", "y"] * 10, "b": ["u", "v"] * 10})
CONFLICT = Margins({"a": {"x": 50.0, "y": 50.0}, "b": {"u": 30.0, "v": 70.0}})
# A sample where those margins can be met, but not inside tight bounds on g = w / d.
MIXED = pd.DataFrame({"a": ["x", "y", "x", "x", "y"] * 4, "b": ["u", "v", "v", "u", "v"] * 4})


def _real_error(sample: pd.DataFrame, weights, margins: Margins) -> float:
    w = np.asarray(weights, dtype=float)
    worst = 0.0
    for margin in margins:
        keys = list(margin.variables)
        cells = sample[keys].astype(str).agg("|".join, axis=1).to_numpy()
        achieved = pd.Series(w).groupby(cells).sum()
        target = margin.values.copy()
        target.index = ["|".join(map(str, k if isinstance(k, tuple) else (k,))) for k in target.index]
        everything = target.index.union(achieved.index)
        t, a = target.reindex(everything, fill_value=0.0), achieved.reindex(everything, fill_value=0.0)
        rel = np.where(t > 0, np.abs(a - t) / t.where(t > 0, 1.0), a / t.sum())
        worst = max(worst, float(rel.max()))
    return worst


def _table_error(table: pd.Series, margins: Margins) -> float:
    frame = table.rename("w").reset_index()
    return _real_error(frame, frame["w"], margins)


@pytest.mark.parametrize("method", ["rake", "linear", "raking"])
def test_weighting_that_cannot_meet_its_margins_says_so(method):
    with pytest.warns(ConvergenceWarning):
        if method == "rake":
            result = rake(LOCKED, CONFLICT, on_nonconvergence="warn", max_iter=200)
        else:
            result = calibrate(LOCKED, CONFLICT, method=method, on_nonconvergence="warn")
    assert not result.converged
    real = _real_error(LOCKED, result.weights, CONFLICT)
    assert real > 0.1
    assert result.max_margin_error == pytest.approx(real, rel=1e-9)
    # By default the same call raises, naming the conflicting cells.
    with pytest.raises(StructuralInfeasibilityError, match="Conflicting margin cells"):
        (rake(LOCKED, CONFLICT) if method == "rake" else calibrate(LOCKED, CONFLICT, method=method))


def test_rake_stopped_early_reports_its_last_iterate():
    with pytest.warns(ConvergenceWarning):
        result = rake(MIXED, CONFLICT, max_iter=1, tol=1e-12, on_nonconvergence="warn")
    assert not result.converged and result.n_iter == 1
    assert result.max_margin_error == pytest.approx(_real_error(MIXED, result.weights, CONFLICT), rel=1e-9)
    assert result.max_margin_error > 1e-3
    with pytest.raises(ConvergenceError) as caught:
        rake(MIXED, CONFLICT, max_iter=1, tol=1e-12)
    assert not caught.value.result.converged


def test_logit_calibration_inside_bounds_that_no_weights_meet_raises():
    with pytest.raises(InfeasibleBoundsError, match="Conflicting margin cells"):
        calibrate(MIXED, CONFLICT, method="logit", bounds=(0.9, 1.1))


def test_min_distance_closest_weights_are_not_converged():
    result = min_distance(MIXED, CONFLICT, bounds=(0.9, 1.1), on_infeasible="closest")
    assert not result.converged
    assert result.max_margin_error == pytest.approx(_real_error(MIXED, result.weights, CONFLICT), rel=1e-6)
    assert result.max_margin_error > 0.5


def test_trim_reports_the_margins_it_meets_and_raises_when_it_cannot():
    result = trim(MIXED, CONFLICT, max_ratio=1.3, max_rounds=5)
    assert result.converged
    assert _real_error(MIXED, result.weights, CONFLICT) <= 1e-8
    assert result.weights.max() / result.weights.mean() <= 1.3 + 1e-8
    with pytest.raises(InfeasibleBoundsError):
        trim(MIXED, CONFLICT, max_ratio=1.01)


def test_poststratify_meets_zero_targets_and_refuses_unreachable_ones():
    # A zero target for a stratum with rows: its weights must be 0, which the result shows.
    table = pd.Series({"x": 100.0, "y": 0.0}).rename_axis("a")
    result = poststratify(MIXED, table)
    assert result.converged and (result.weights[MIXED["a"] == "y"] == 0).all()
    assert _real_error(MIXED, result.weights, Margins({"a": table})) == 0.0
    with pytest.raises(EmptyCategoryError, match="'z'"):
        poststratify(MIXED, pd.Series({"x": 60.0, "y": 40.0, "z": 5.0}).rename_axis("a"))


def test_ipf_from_a_seed_with_structural_zeros():
    # Seed mass only on (x, u) and (y, v): rows 60/40 and columns 50/50 cannot both hold.
    index = pd.MultiIndex.from_product([["x", "y"], ["u", "v"]], names=["a", "b"])
    seed = pd.Series([10.0, 0.0, 0.0, 10.0], index=index)
    margins = Margins({"a": {"x": 60.0, "y": 40.0}, "b": {"u": 50.0, "v": 50.0}})
    with pytest.warns(ConvergenceWarning):
        result = ipf(seed, margins, on_nonconvergence="warn")
    assert not result.converged
    assert result.max_margin_error == pytest.approx(_table_error(result.table, margins), rel=1e-9)
    assert result.max_margin_error == pytest.approx(0.25, rel=1e-6)  # y: 50 against 40


def _associated():
    # 1,000 persons; every x is a u, and a zero target for (x, v).
    index = pd.MultiIndex.from_product([["x", "y"], ["u", "v"]], names=["a", "b"])
    joint = pd.Series([500.0, 0.0, 100.0, 400.0], index=index)
    return Margins({"a": {"x": 500.0, "y": 500.0}, "b": {"u": 600.0, "v": 400.0}, ("a", "b"): joint})


def test_independent_joint_misses_an_associated_margin_and_says_so():
    margins = _associated()
    with pytest.warns(ConvergenceWarning, match="misses its margins"):
        result = reconstruct_joint(margins, method="independent")
    # The product of the marginals: (x, u) 300, (x, v) 200, (y, u) 300, (y, v) 200.
    assert result.table.to_dict() == pytest.approx({("x", "u"): 300.0, ("x", "v"): 200.0,
                                                    ("y", "u"): 300.0, ("y", "v"): 200.0})
    assert not result.converged
    errors = result.margin_errors.set_index(["margin", "category"])
    # 200 persons where the target says nobody lives: 200 of the margin's 1,000
    assert errors.loc[("a:b", "x × v"), "rel_error"] == pytest.approx(0.2)
    assert errors.loc[("a:b", "x × v"), "abs_error"] == pytest.approx(200.0)
    assert errors["share_error"].max() == pytest.approx(0.2)
    assert result.max_margin_error == pytest.approx(_table_error(result.table, margins)) == pytest.approx(2.0)


def test_independent_joint_of_one_way_margins_converges():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = reconstruct_joint(Margins({"a": {"x": 30.0, "y": 70.0}, "b": {"u": 50.0, "v": 50.0}}),
                                   method="independent")
    assert result.converged and result.max_margin_error == pytest.approx(0.0, abs=1e-12)


def test_ipf_joint_meets_the_associated_margin():
    margins = _associated()
    seed = pd.Series(1.0, index=pd.MultiIndex.from_product([["x", "y"], ["u", "v"]], names=["a", "b"]))
    result = reconstruct_joint(margins, seed=seed, method="ipf")
    assert result.converged and _table_error(result.table, margins) <= 1e-8


@pytest.mark.slow
def test_bayes_joint_counts_mass_on_a_zero_target():
    # The posterior mean is IPF of posterior draws of the margins, so it meets consistent margins to
    # about their assumed noise; what it puts where a target is 0 must show as error (it used to read 0).
    index = pd.MultiIndex.from_product([["x", "y"], ["u", "v"]], names=["a", "b"])
    margins = Margins({"a": {"x": 500.0, "y": 500.0}, "b": {"u": 600.0, "v": 400.0},
                       ("a", "b"): pd.Series([500.0, 0.0, 100.0, 400.0], index=index)})
    result = reconstruct_joint(margins, seed=pd.Series(25.0, index=index), method="bayes", sampler="advi",
                               advi_iterations=2000, draws=100, chains=1, random_state=0, progress=False)
    errors = result.margin_errors.set_index(["margin", "category"])
    mass = float(result.table[("x", "v")])
    assert mass > 0
    assert errors.loc[("a:b", "x × v"), "rel_error"] == pytest.approx(mass / 1000.0, rel=1e-9)
    assert result.max_margin_error == pytest.approx(_table_error(result.table, margins), rel=1e-9)
    # within 3 SD of the margins' 2% noise everywhere: converged (ADVI's loss settled)
    assert result.converged and result.max_margin_error < 0.02


def test_integerize_claims_no_convergence():
    result = integerize(np.array([0.4, 0.6, 1.5, 2.5]), total=5)
    assert not hasattr(result, "converged") and int(result.counts.sum()) == 5
