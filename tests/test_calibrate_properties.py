"""Invariances and properties of the calibration methods (hypothesis-generated problems)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _reference_kernels import rake_units

import personacal.calibrate._rake as rake_module
from personacal.calibrate import Margins, calibrate, integerize, ipf, rake, trim
from personacal.calibrate._encode import encode_sample
from personacal.calibrate._rake_numba import THREADED_FROM_ROWS, rake_units_with_totals
from personacal.errors import ConvergenceError

LEVELS = {"a": ["a0", "a1", "a2"], "b": ["b0", "b1"], "c": ["c0", "c1", "c2", "c3"]}


@st.composite
def problems(draw):
    """A sample with every cell of the grid occupied, and positive 1-D targets with equal totals.

    Occupying every cell keeps the targets reachable; sparse samples can make
    1-D targets infeasible (tested in test_calibrate_errors).
    """
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(30, 300))
    rng = np.random.default_rng(seed)
    sample = pd.DataFrame({v: rng.choice(levels, n) for v, levels in LEVELS.items()})
    grid = pd.MultiIndex.from_product(LEVELS.values(), names=list(LEVELS)).to_frame(index=False)
    sample = pd.concat([grid, sample], ignore_index=True)
    total = float(draw(st.integers(100, 10_000)))
    margins = {v: dict(zip(levels, rng.dirichlet(np.full(len(levels), 3.0)) * total)) for v, levels in LEVELS.items()}
    d = rng.uniform(0.5, 3.0, len(sample))
    return sample, Margins(margins), d, rng


def _weighted_margins(sample, weights, variable):
    return pd.Series(np.asarray(weights), index=sample.index).groupby(sample[variable].to_numpy()).sum()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_raked_weights_hit_every_target(problem):
    sample, margins, d, _ = problem
    result = rake(sample, margins, weights=d, tol=1e-9)
    for v in LEVELS:
        achieved = _weighted_margins(sample, result.weights, v)
        target = margins[v]
        np.testing.assert_allclose(achieved.reindex(target.index), target, rtol=1e-8)
    assert result.max_margin_error <= 1e-9


@settings(max_examples=25, deadline=None)
@given(problems())
def test_rake_is_invariant_to_row_order(problem):
    sample, margins, d, rng = problem
    order = rng.permutation(len(sample))
    first = rake(sample, margins, weights=d, tol=1e-12).weights
    shuffled = rake(sample.iloc[order], margins, weights=d[order], tol=1e-12).weights
    np.testing.assert_allclose(shuffled.reindex(first.index), first, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(problems(), st.sampled_from(["linear", "raking"]))
def test_calibrate_is_invariant_to_row_order_and_leaves_input_alone(problem, method):
    sample, margins, d, rng = problem
    before, d_before = sample.copy(), d.copy()
    first = calibrate(sample, margins, method=method, weights=d, tol=1e-11).weights
    pd.testing.assert_frame_equal(sample, before)
    np.testing.assert_array_equal(d, d_before)
    order = rng.permutation(len(sample))
    shuffled = calibrate(sample.iloc[order], margins, method=method, weights=d[order], tol=1e-11).weights
    np.testing.assert_allclose(shuffled.reindex(first.index), first, rtol=1e-8)


@settings(max_examples=20, deadline=None)
@given(problems())
def test_unit_level_kernels_equal_collapsed_path(problem):
    """rake() collapses units to cells here; both unit-level kernels (NumPy, numba) must agree."""
    sample, margins, d, _ = problem
    enc = encode_sample(sample, margins, func="test")
    cells = [enc.margin_codes(m) for m in enc.margins]
    targets = [m.target.ravel() for m in enc.margins]
    w_units, n_units, *_ = rake_units(d, cells, targets, tol=1e-12, max_iter=1000)
    w_fused, n_fused, *_ = rake_units_with_totals(d, cells, targets, tol=1e-12, max_iter=1000)
    collapsed = rake(sample, margins, weights=d, tol=1e-12).weights.to_numpy()
    np.testing.assert_allclose(w_units, collapsed, rtol=1e-9)
    np.testing.assert_allclose(w_fused, w_units, rtol=1e-12)
    assert n_fused == n_units


def _sparse_problem(rng, levels: tuple[int, ...], n: int, two_way: bool):
    """``n`` rows over a grid of ``prod(levels)`` cells (more cells than rows), every category present,
    and targets that are the margins of hidden positive weights, so they are reachable by construction.

    Returns the sample, its Margins, design weights, and for the reference kernel each margin's flat
    cell code per row and flat target (built here with NumPy, not by the package's encoder).
    """
    codes = [rng.integers(0, k, n) for k in levels]
    for v, k in enumerate(levels):  # the first rows hold every category of every variable
        codes[v][:k] = np.arange(k)
    names = [f"v{v}" for v in range(len(levels))]
    labels = [np.array([f"{name}_{i}" for i in range(k)]) for name, k in zip(names, levels)]
    sample = pd.DataFrame({name: lab[c] for name, lab, c in zip(names, labels, codes)})
    hidden = rng.uniform(0.2, 5.0, n)
    keys = [(v,) for v in range(len(levels))] + ([(0, 1)] if two_way else [])
    cell_of_unit, targets, margins = [], [], {}
    for axes in keys:
        shape = tuple(levels[a] for a in axes)
        flat = np.ravel_multi_index(tuple(codes[a] for a in axes), shape)
        target = np.bincount(flat, weights=hidden, minlength=int(np.prod(shape)))
        cell_of_unit.append(flat)
        targets.append(target)
        if len(axes) == 1:
            margins[names[axes[0]]] = pd.Series(target, index=labels[axes[0]])
        else:
            index = pd.MultiIndex.from_product([labels[a] for a in axes], names=[names[a] for a in axes])
            margins[tuple(names[a] for a in axes)] = pd.Series(target, index=index)
    d = rng.uniform(0.5, 3.0, n)
    return sample, Margins(margins), d, cell_of_unit, targets


class _Spy:
    """Calls the package's unit-level kernel unchanged and records how rake() called it."""

    def __init__(self):
        self.calls = []

    def __call__(self, weights, cell_of_unit, targets, **options):
        self.calls.append({"rows": len(weights), "initial": options.get("initial") is not None})
        return rake_units_with_totals(weights, cell_of_unit, targets, **options)


@st.composite
def sparse_problems(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    levels = tuple(draw(st.lists(st.integers(3, 9), min_size=3, max_size=5)))
    cells = int(np.prod(levels))
    n = draw(st.integers(max(levels), min(400, cells - 1)))
    two_way = draw(st.booleans())
    return _sparse_problem(np.random.default_rng(seed), levels, n, two_way), cells


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sparse_problems())
def test_rake_on_more_cells_than_rows_rakes_units_like_the_reference(monkeypatch, problem):
    """rake() itself on samples sparser than their grid: it must take the unit-level branch (numba,
    with the totals it already has as ``initial``) and give the weights, sweep count and error of
    the plain NumPy reference kernel of tests/_reference_kernels.py.

    Nearly saturated samples (about as many rows as constraints) can rake so slowly that the
    reference itself stops short at ``max_iter``; rake() must then raise ConvergenceError carrying
    the reference's last iterate, never return it as converged.
    """
    (sample, margins, d, cell_of_unit, targets), cells = problem
    assert cells > len(sample)
    spy = _Spy()
    monkeypatch.setattr(rake_module, "rake_units_with_totals", spy)
    w_ref, n_ref, history_ref, error_ref = rake_units(d, cell_of_unit, targets, tol=1e-10, max_iter=2000)
    if error_ref > 1e-10:
        with pytest.raises(ConvergenceError, match="did not converge") as stopped:
            rake(sample, margins, weights=d, tol=1e-10, max_iter=2000)
        result = stopped.value.result
        assert not result.converged and result.n_iter == n_ref == 2000
    else:
        result = rake(sample, margins, weights=d, tol=1e-10, max_iter=2000)
        assert result.converged and result.n_iter == n_ref
    assert spy.calls == [{"rows": len(sample), "initial": True}]
    np.testing.assert_allclose(result.weights.to_numpy(), w_ref, rtol=1e-9)
    np.testing.assert_allclose(result.history, history_ref, rtol=1e-6, atol=1e-13)
    assert result.max_margin_error == pytest.approx(error_ref, rel=1e-6, abs=1e-13)
    if not result.converged:
        return
    for cells_of_margin, target in zip(cell_of_unit, targets):
        achieved = np.bincount(cells_of_margin, weights=result.weights.to_numpy(), minlength=target.size)
        np.testing.assert_allclose(achieved, target, rtol=1e-9, atol=1e-9 * target.sum())


def test_rake_on_a_nearly_saturated_sample_raises_with_the_reference_last_iterate():
    """The sample a CI run once drew: 18 rows against 17 independent constraints. Raking creeps
    (relative error 4.8e-5 after 2000 sweeps in the NumPy reference); rake() must say so with a
    ConvergenceError naming the worst margin, and keep the reference's last iterate on it."""
    codes = [np.array([0, 1, 2, 3, 4, 5, 0, 0, 1, 4, 3, 5, 3, 3, 5, 4, 3, 3]),
             np.array([0, 1, 2, 3, 2, 0, 1, 3, 2, 0, 3, 2, 3, 0, 0, 3, 0, 2]),
             np.array([0, 1, 2, 3, 4, 0, 0, 0, 0, 3, 2, 3, 1, 3, 3, 1, 2, 4]),
             np.array([0, 1, 2, 3, 4, 3, 4, 3, 3, 1, 4, 0, 2, 3, 4, 2, 1, 1])]
    targets = [np.array([7.40662375, 6.54931281, 4.68340888, 12.89598983, 8.7656334, 8.91434325]),
               np.array([21.33218778, 7.52218175, 13.37894813, 6.98199425]),
               np.array([11.23136803, 6.42178858, 10.38088963, 17.75679591, 3.42446975]),
               np.array([5.72330802, 13.83110937, 6.63565585, 11.76082702, 11.26441166])]
    d = np.array([1.34029265, 0.87569867, 1.62584842, 2.49081068, 1.07660552, 0.63005325, 1.5113796,
                  0.99628261, 0.72688261, 1.95083096, 1.24674033, 2.17998719, 0.99878861, 2.85528278,
                  1.41277542, 0.7637382, 2.07277038, 2.81788638])
    sample = pd.DataFrame({f"v{v}": [f"v{v}_{i}" for i in c] for v, c in enumerate(codes)})
    margins = Margins({f"v{v}": pd.Series(t, index=[f"v{v}_{i}" for i in range(t.size)])
                       for v, t in enumerate(targets)})
    w_ref, n_ref, _, error_ref = rake_units(d, codes, targets, tol=1e-10, max_iter=2000)
    assert n_ref == 2000 and 1e-5 < error_ref < 1e-4
    with pytest.raises(ConvergenceError, match="margin 'v1'") as stopped:
        rake(sample, margins, weights=d, tol=1e-10, max_iter=2000)
    result = stopped.value.result
    assert not result.converged and result.n_iter == 2000
    assert result.max_margin_error == pytest.approx(error_ref, rel=1e-6)
    np.testing.assert_allclose(result.weights.to_numpy(), w_ref, rtol=1e-9)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.booleans())
def test_rake_on_a_large_sparse_sample_takes_the_threaded_unit_path(monkeypatch, seed, two_way):
    """Above THREADED_FROM_ROWS rows, still fewer than cells, rake() rakes units on row chunks
    (in threads where there are several cores); it must equal the single-pass NumPy reference."""
    n = THREADED_FROM_ROWS + 20_000
    levels = (11, 13, 17, 19, 23)  # 1.06M cells > n
    sample, margins, d, cell_of_unit, targets = _sparse_problem(np.random.default_rng(seed), levels, n, two_way)
    spy = _Spy()
    monkeypatch.setattr(rake_module, "rake_units_with_totals", spy)
    result = rake(sample, margins, weights=d, tol=1e-10, max_iter=2000)
    assert spy.calls == [{"rows": n, "initial": True}] and n >= THREADED_FROM_ROWS
    w_ref, n_ref, _, error_ref = rake_units(d, cell_of_unit, targets, tol=1e-10, max_iter=2000)
    assert result.converged and result.n_iter == n_ref >= 3  # several sweeps: the totals are carried over
    np.testing.assert_allclose(result.weights.to_numpy(), w_ref, rtol=1e-9)
    assert result.max_margin_error == pytest.approx(error_ref, rel=1e-6, abs=1e-13)


def test_rake_takes_the_unit_level_path_when_cells_outnumber_rows(rng):
    """30 rows over a 3 × 2 × 4 × 5 grid (120 cells): rake() rakes units; weights must hit the targets."""
    n = 30
    sample = pd.DataFrame({v: rng.choice(levels, n) for v, levels in LEVELS.items()})
    sample["e"] = rng.choice(["e0", "e1", "e2", "e3", "e4"], n)
    for v, levels in {**LEVELS, "e": ["e0", "e1", "e2", "e3", "e4"]}.items():
        sample.loc[sample.index[: len(levels)], v] = levels
    margins = Margins({v: dict(zip(levels, np.full(len(levels), 120 / len(levels))))
                       for v, levels in {**LEVELS, "e": ["e0", "e1", "e2", "e3", "e4"]}.items()})
    result = rake(sample, margins, tol=1e-9, on_nonconvergence="warn")
    for v in margins.variables:
        achieved = _weighted_margins(sample, result.weights, v)
        np.testing.assert_allclose(achieved.reindex(margins[v].index), margins[v], rtol=1e-6)


def test_threaded_unit_level_rake_equals_the_numpy_reference():
    """Above THREADED_FROM_ROWS the numba passes run on row chunks in threads; weights, sweeps and
    the reported error must match the single-threaded NumPy kernel, and repeat bit for bit."""
    from personacal.calibrate._rake_numba import THREADED_FROM_ROWS

    rng = np.random.default_rng(11)
    n = THREADED_FROM_ROWS + 50_001
    levels = (13, 17, 19, 23, 29)  # 2.1M cells > n: unit-level path
    codes = [rng.integers(0, k, n).astype(np.int8) for k in levels]
    shared = rng.random(n) < 0.3
    codes[1][shared] = codes[0][shared]  # correlated columns, so raking needs several sweeps
    targets = [rng.dirichlet(np.full(k, 20.0)) * 1e6 for k in levels]
    d = rng.uniform(0.5, 2.0, n)
    w_ref, n_ref, hist_ref, err_ref = rake_units(d, codes, targets, tol=1e-10, max_iter=500)
    w_thr, n_thr, hist_thr, err_thr, totals = rake_units_with_totals(d, codes, targets, tol=1e-10, max_iter=500)
    again, *_ = rake_units_with_totals(d, codes, targets, tol=1e-10, max_iter=500)
    assert n_thr == n_ref > 5 and err_thr <= 1e-10
    np.testing.assert_allclose(w_thr, w_ref, rtol=1e-10)
    np.testing.assert_allclose(hist_thr, hist_ref, rtol=1e-6, atol=1e-14)
    np.testing.assert_array_equal(again, w_thr)
    for c, t, returned in zip(codes, targets, totals):
        np.testing.assert_allclose(np.bincount(c, weights=w_thr, minlength=t.size), t, rtol=1e-9)
        np.testing.assert_allclose(returned, np.bincount(c, weights=w_thr, minlength=t.size), rtol=1e-12)


def test_raking_calibration_equals_rake(rng):
    sample = pd.DataFrame({v: rng.choice(levels, 400) for v, levels in LEVELS.items()})
    margins = Margins({v: dict(zip(levels, rng.dirichlet(np.ones(len(levels))) * 1000)) for v, levels in LEVELS.items()})
    np.testing.assert_allclose(
        calibrate(sample, margins, method="raking", tol=1e-12).weights, rake(sample, margins, tol=1e-12).weights, rtol=1e-9
    )


def test_unit_weights_and_unit_design_weights_agree(rng):
    sample = pd.DataFrame({v: rng.choice(levels, 200) for v, levels in LEVELS.items()})
    margins = Margins({v: dict(zip(levels, np.full(len(levels), 600 / len(levels)))) for v, levels in LEVELS.items()})
    np.testing.assert_allclose(rake(sample, margins).weights, rake(sample, margins, weights=np.ones(200)).weights)


def test_rake_is_idempotent(rng):
    sample = pd.DataFrame({v: rng.choice(levels, 300) for v, levels in LEVELS.items()})
    margins = Margins({v: dict(zip(levels, rng.dirichlet(np.ones(len(levels))) * 900)) for v, levels in LEVELS.items()})
    first = rake(sample, margins, tol=1e-12)
    again = rake(sample, margins, weights=first.weights, tol=1e-12)
    np.testing.assert_allclose(again.weights, first.weights, rtol=1e-10)
    assert again.n_iter == 0


def test_two_way_margin_by_hand():
    """2×2 table raked to 1-D margins: the fitted table is known in closed form.

    Seed [[1, 1], [1, 1]] with row totals (30, 70) and column totals (40, 60):
    with a uniform seed the fit is the product of the margins / total,
    i.e. [[12, 18], [28, 42]].
    """
    seed = pd.Series(1.0, index=pd.MultiIndex.from_product([["r0", "r1"], ["c0", "c1"]], names=["r", "c"]))
    result = ipf(seed, Margins({"r": {"r0": 30, "r1": 70}, "c": {"c0": 40, "c1": 60}}))
    assert result.table.tolist() == pytest.approx([12, 18, 28, 42], rel=1e-12)


def test_by_region_equals_separate_calls(rng):
    sample = pd.DataFrame({v: rng.choice(levels, 300) for v, levels in LEVELS.items()})
    sample["state"] = rng.choice(["CA", "WY", "TX"], len(sample))
    margins = {
        s: Margins({v: dict(zip(levels, rng.dirichlet(np.ones(len(levels))) * 1000)) for v, levels in LEVELS.items()}, name=s)
        for s in ["CA", "WY", "TX"]
    }
    combined = rake(sample, margins, by="state", tol=1e-12)
    assert combined.converged and set(combined.results) == {"CA", "WY", "TX"}
    for s in ["CA", "WY", "TX"]:
        part = sample[sample.state == s]
        np.testing.assert_allclose(combined.weights[part.index], rake(part, margins[s], tol=1e-12).weights, rtol=1e-12)
    assert list(combined.region_table().index) == ["CA", "WY", "TX"]
    assert "Per region" in str(combined.summary())


def test_summary_and_frame_are_readable(rng):
    sample = pd.DataFrame({v: rng.choice(levels, 300) for v, levels in LEVELS.items()})
    margins = Margins({v: dict(zip(levels, rng.dirichlet(np.ones(len(levels))) * 900)) for v, levels in LEVELS.items()})
    result = rake(sample, margins)
    text = str(result.summary())
    for needle in ("converged", "Kish effective sample size", "design effect", "max/min weight ratio", "Per margin"):
        assert needle in text
    assert "<table>" in result.summary()._repr_html_()
    frame = result.to_frame()
    assert list(frame.columns[:6]) == ["margin", "category", "target", "initial", "achieved", "rel_error"]
    assert len(frame) == sum(len(v) for v in LEVELS.values())
    # ASMD after raking is ~0; before, the sample is unbalanced.
    assert frame["asmd_after"].max() < 1e-8 < frame["asmd_before"].max()


def test_shares_and_categorical_columns(rng):
    n = 500
    sample = pd.DataFrame({"a": pd.Categorical(rng.choice(["a1", "a0"], n), categories=["a1", "a0"])})
    margins = Margins.from_shares({"a": {"a0": 0.3, "a1": 0.7}}, total=1000)
    result = rake(sample, margins)
    assert _weighted_margins(sample, result.weights, "a").to_dict() == pytest.approx({"a0": 300, "a1": 700})


def test_integerize_keeps_totals_and_rounds_each_cell_to_floor_or_ceil(rng):
    values = pd.Series(rng.uniform(0, 5, 200))
    result = integerize(values, random_state=3)
    assert result.counts.sum() == round(values.sum())
    assert ((result.counts == np.floor(values)) | (result.counts == np.ceil(values))).all()
    again = integerize(values, random_state=3)
    pd.testing.assert_series_equal(result.counts, again.counts)


def test_trim_caps_weights_and_still_meets_margins(rng):
    """A skewed sample: plain raking gives weights above the cap; trim keeps both the cap and the margins."""
    n = 400
    sample = pd.DataFrame({"a": rng.choice(["a0", "a1", "a2"], n, p=[0.6, 0.25, 0.15]),
                           "b": rng.choice(["b0", "b1"], n, p=[0.75, 0.25])})
    margins = Margins({"a": {"a0": 300, "a1": 300, "a2": 400}, "b": {"b0": 450, "b1": 550}})
    cap = 3.0 * margins.total / n
    assert rake(sample, margins).weights.max() > cap  # otherwise the test proves nothing
    trimmed = trim(sample, margins, max_ratio=3.0)
    assert trimmed.converged
    assert trimmed.weights.max() <= cap * (1 + 1e-8)
    for v in ("a", "b"):
        achieved = _weighted_margins(sample, trimmed.weights, v)
        np.testing.assert_allclose(achieved.reindex(margins[v].index), margins[v], rtol=1e-7)
