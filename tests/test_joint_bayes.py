"""reconstruct_joint(method="bayes"): hand-checkable fits, pooling, diagnostics and errors."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

# Reuse PyTensor's compiled C code between runs (its first compile takes about a minute).
os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={tempfile.gettempdir()}/personacal-pytensor")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

from personacal.calibrate import Margins, reconstruct_joint  # noqa: E402
from personacal.errors import ConvergenceError, DiagnosticsWarning, InputError, MappingError  # noqa: E402

SEED_2X2 = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.MultiIndex.from_tuples(
    [("a1", "b1"), ("a1", "b2"), ("a2", "b1"), ("a2", "b2")], names=["a", "b"]))
MARGINS_2X2 = Margins({"a": {"a1": 40.0, "a2": 60.0}, "b": {"b1": 50.0, "b2": 50.0}}, name="R")
# A small sampling budget keeps these tests quick, with convergence thresholds for that budget:
# 2 chains x 500 draws hold at most 1,000 effective draws, and the largest of a few dozen split
# R-hats wanders about 0.01 above 1 by chance with so few draws (the defaults, 1.01 and 400, are
# meant for 4 chains x 1,000). Every fit here is expected to converge: a DiagnosticsWarning fails
# the test, except where a test asks for one with pytest.warns.
FAST = dict(draws=500, tune=500, chains=2, progress=False, max_rhat=1.02, min_ess=300)
pytestmark = pytest.mark.filterwarnings("error::personacal.errors.DiagnosticsWarning")


def test_a_certain_seed_and_exact_margins_give_the_ipf_table():
    # A seed of a million respondents pins the odds ratio at 4/6, near-exact margins pin
    # the rows (40, 60) and columns (50, 50), so the table is the hand-solved IPF fit
    # x11 = x with x^2 + 210 x - 4000 = 0 (see test_joint_methods).
    result = reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="bayes", seed_size=1e6, noise=1e-4,
                               interaction_scale=1e-3, random_state=11, **FAST)
    x = (-210 + math.sqrt(210**2 + 4 * 4000)) / 2
    assert result.table[("a1", "b1")] == pytest.approx(x, rel=0.01)
    assert result.table[("a2", "b2")] == pytest.approx(10 + x, rel=0.01)
    assert result.lower[("a1", "b1")] <= x <= result.upper[("a1", "b1")]
    assert result.upper[("a1", "b1")] - result.lower[("a1", "b1")] < 0.05 * x
    assert result.converged and result.level == 0.95
    assert list(result.to_frame().columns) == ["a", "b", "count", "lower", "upper"]
    text = result.summary().as_text()
    assert "Convergence diagnostics" in text and "(all sampled)" in text and "95%" in text
    assert re.fullmatch(r"<JointResult method='bayes', regions=1, variables=2, cells=4, converged=True, "
                        r"max_margin_error=[0-9.e+-]+, level=0.95>", repr(result))
    with pytest.warns(DeprecationWarning, match=r"`JointResult.interval` is deprecated.*use `level`"):
        assert result.interval == 0.95


def test_a_small_seed_leaves_wide_intervals_around_the_table():
    # Ten seed respondents say little about the odds ratio: the interval must widen.
    result = reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="bayes", random_state=12, **FAST)
    assert result.converged
    assert result.upper[("a1", "b1")] - result.lower[("a1", "b1")] > 0.2 * result.table[("a1", "b1")]
    assert result.table.groupby(level="a").sum().to_dict() == pytest.approx({"a1": 40.0, "a2": 60.0}, rel=0.05)
    assert (result.lower <= result.table).all() and (result.table <= result.upper).all()


def _regions():
    sex_age = {("M", "young"): 30.0, ("M", "old"): 20.0, ("F", "young"): 25.0, ("F", "old"): 25.0}
    seed = pd.Series(sex_age).rename_axis(["sex", "age"])
    a = Margins({"sex": {"M": 55.0, "F": 45.0}, "age": {"young": 70.0, "old": 30.0}}, name="A")
    b = Margins({"sex": {"M": 45.0, "F": 55.0}, "age": {"young": 40.0, "old": 60.0}}, name="B")
    c = Margins({"sex": {"M": 20.0, "F": 80.0}}, name="C")  # no age margin, like DC in the census data
    return {"A": a, "B": b, "C": c}, seed


def test_a_region_without_a_margin_borrows_it_from_the_others():
    margins, seed = _regions()
    result = reconstruct_joint(margins, seed=seed, method="bayes", random_state=13, **FAST)
    assert result.converged
    c_age = result.for_region("C").groupby(level="age").sum() / 100.0
    assert result.for_region("C").groupby(level="sex").sum()["F"] == pytest.approx(80.0, rel=0.05)
    # C's age coefficient is Normal(mu, scale) with, in the zero-sum coordinate c = logit / sqrt(2),
    # scale the between-region SD of A's and B's coefficients (a, b) and mu their mean, known to
    # within scale / sqrt(2). So C's share of the young is E[expit(sqrt(2) c)] over
    # c ~ N((a + b) / 2, 1.5 scale^2): 0.544, against 0.4 (B), 0.7 (A) and 0.5 (no information).
    # Monte Carlo error of the posterior mean at ~700 effective draws: ~0.006.
    a, b = np.log(0.7 / 0.3) / np.sqrt(2), np.log(0.4 / 0.6) / np.sqrt(2)
    scale = abs(a - b) / np.sqrt(2)
    expected = scipy.stats.norm((a + b) / 2, np.sqrt(1.5) * scale).expect(lambda c: scipy.special.expit(np.sqrt(2) * c))
    assert expected == pytest.approx(0.544, abs=1e-3)
    assert c_age["young"] == pytest.approx(expected, abs=0.025)
    lower_c = result.lower.xs("C", level="region").groupby(level="age").sum()
    upper_c = result.upper.xs("C", level="region").groupby(level="age").sum()
    lower_a = result.lower.xs("A", level="region").groupby(level="age").sum()
    upper_a = result.upper.xs("A", level="region").groupby(level="age").sum()
    assert (upper_c - lower_c)["young"] > 3 * (upper_a - lower_a)["young"]
    with pytest.raises(InputError, match=r"margins of region 'C' lack variable\(s\) \['age'\]"):
        reconstruct_joint(margins, seed=seed, method="ipf")


def test_a_variable_the_seed_lacks_stays_uncertain():
    # The seed knows a x b only. Spread evenly over c, it must not count as evidence that
    # c is independent of a and b: with independent_of_seed the a:c and b:c structure comes
    # from the priors, so the intervals are far wider than when the same spread table is
    # passed as if the seed had measured c.
    margins = Margins({"a": {"a1": 40.0, "a2": 60.0}, "b": {"b1": 50.0, "b2": 50.0},
                       "c": {"c1": 30.0, "c2": 70.0}}, name="R")
    seed = pd.DataFrame({"a": ["a1", "a1", "a2", "a2"] * 250, "b": ["b1", "b2", "b1", "b2"] * 250})
    proper = reconstruct_joint(margins, seed=seed, method="bayes", independent_of_seed=("c",), seed_size=1e5,
                               random_state=16, **FAST)
    spread = seed.groupby(["a", "b"]).size().astype(float)
    spread = pd.concat({"c1": spread / 2, "c2": spread / 2}, names=["c"]).reorder_levels(["a", "b", "c"])
    with warnings.catch_warnings():
        # Not expected to converge cleanly: a 1e5-respondent seed that pins the three-way term at 0
        # makes tau_higher * z_higher a funnel (non-centred against strong data), and NUTS meets a
        # few divergences there (1-7 per 1,000 draws over seeds). Only the widths matter here.
        warnings.simplefilter("ignore", DiagnosticsWarning)
        claimed = reconstruct_joint(margins, seed=spread, method="bayes", seed_size=1e5, random_state=16, **FAST)
    assert proper.converged
    width = lambda r: ((r.upper - r.lower) / r.table).median()  # noqa: E731
    assert width(proper) > 2 * width(claimed)
    assert proper.table.groupby(level="c").sum().to_dict() == pytest.approx({"c1": 30.0, "c2": 70.0}, rel=0.05)


def _table_with_odds_ratio(odds_ratio: float, rows=(40.0, 60.0), cols=(50.0, 50.0)) -> np.ndarray:
    """The 2 x 2 table with these margins and this odds ratio (the IPF fit of any seed that has it):
    x11 (N - r1 - c1 + x11) = OR (r1 - x11)(c1 - x11), the root inside the margins."""
    r1, c1, n = rows[0], cols[0], sum(rows)
    roots = np.roots([1 - odds_ratio, n - r1 - c1 + odds_ratio * (r1 + c1), -odds_ratio * r1 * c1])
    x = float(next(r.real for r in roots if abs(r.imag) < 1e-12 and 0 < r.real < min(r1, c1)))
    return np.array([x, r1 - x, c1 - x, n - r1 - c1 + x])


def test_seed_rows_of_each_region_set_its_own_interactions():
    # Region A's seed rows have odds ratio 16, region B's 1/16 (2,000 rows each). With seed_by each
    # region's interactions are learned from its own rows, so each joint is the table with the
    # region's margins and its own seed's odds ratio (shrinkage is negligible at this size); pooled,
    # both regions get the pooled seed's odds ratio, 1.
    cells = pd.MultiIndex.from_product([["A", "B"], ["a1", "a2"], ["b1", "b2"]], names=["region", "a", "b"])
    seed = pd.Series([800.0, 200, 200, 800, 200, 800, 800, 200], index=cells)
    margins = {"A": MARGINS_2X2, "B": MARGINS_2X2}
    learned = reconstruct_joint(margins, seed=seed, method="bayes", seed_by="region", random_state=17, **FAST)
    assert learned.converged
    np.testing.assert_allclose(learned.for_region("A").to_numpy(), _table_with_odds_ratio(16.0), rtol=0.03)
    np.testing.assert_allclose(learned.for_region("B").to_numpy(), _table_with_odds_ratio(1 / 16), rtol=0.03)
    assert set(learned.posterior.posterior["z_seed"].coords["seed_group"].values) == {"A", "B"}
    assert any("2 groups by 'region', 2 of them fitted regions" in note for note in learned.notes)
    pooled = reconstruct_joint(margins, seed=seed.groupby(level=["a", "b"]).sum(), method="bayes", random_state=17,
                               **FAST)
    for region in ("A", "B"):
        np.testing.assert_allclose(pooled.for_region(region).to_numpy(), _table_with_odds_ratio(1.0), rtol=0.05)


def _groups(log_odds_ratios) -> pd.Series:
    """1,000 seed rows per group (exact expected counts) with a1:b1 share 1/2 and these log odds ratios."""
    tables = {}
    for i, log_or in enumerate(log_odds_ratios):
        tables[f"G{i}"] = pd.Series(_table_with_odds_ratio(np.exp(log_or), (50.0, 50.0), (50.0, 50.0)) * 10,
                                    index=pd.MultiIndex.from_product([["a1", "a2"], ["b1", "b2"]], names=["a", "b"]))
    return pd.concat(tables, names=["region"])


def test_a_region_without_seed_rows_gets_deviations_at_the_learned_scale():
    # Eight seed-only groups. Diverse: log odds ratios +-1, i.e. the pair's zero-sum coefficient
    # (log OR / 2) is +-0.5, a between-group SD of 0.5 for sigma_pair to find (the HalfNormal(0.2)
    # prior pulls it down a little). Alike: all the same, SD 0. Region C has no seed rows: its
    # interval follows the learned scale, not the fixed prior.
    margins = {"C": MARGINS_2X2}
    fits = {}
    for label, log_ors in (("diverse", [1.0, -1.0] * 4), ("alike", [0.4] * 8)):
        # 2 x 1,000 draws: at 2 x 500 the R-hat of a group's main effects reached 1.022.
        fits[label] = reconstruct_joint(margins, seed=_groups(log_ors), method="bayes", seed_by="region",
                                        random_state=18, **dict(FAST, draws=1000, min_ess=200))
        assert fits[label].converged
    sigma = {k: float(f.posterior.posterior["sigma_pair"].median()) for k, f in fits.items()}
    assert 0.3 < sigma["diverse"] < 0.7 and sigma["alike"] < 0.1
    width = {k: float(f.upper.iloc[0] - f.lower.iloc[0]) for k, f in fits.items()}
    assert width["diverse"] > 3 * width["alike"]
    assert any("0 of them fitted regions" in note for note in fits["diverse"].notes)


def test_seed_by_must_name_a_seed_column():
    with pytest.raises(InputError, match=r"the seed lacks variable\(s\) \['state'\]"):
        reconstruct_joint(MARGINS_2X2, seed=pd.DataFrame({"a": ["a1"], "b": ["b1"]}), method="bayes", seed_by="state")
    with pytest.raises(InputError, match=r"`seed_by` of reconstruct_joint\(method='bayes'\) must be a column name or "
                                         r"None; got 3"):
        reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="bayes", seed_by=3)
    with pytest.raises(InputError, match=r"options \['seed_by'\] are only for method='bayes'"):
        reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="ipf", seed_by="state")


def test_same_random_state_same_answer():
    margins, seed = _regions()
    options = dict(seed=seed, method="bayes", sampler="advi", advi_iterations=3000, draws=100, chains=2,
                   progress=False)
    with warnings.catch_warnings():
        # 3,000 ADVI steps keep this quick but need not settle the ELBO to within 1% (its one-draw
        # noise alone moves it about that much): reproducibility is the point here, not convergence.
        warnings.simplefilter("ignore", DiagnosticsWarning)
        first = reconstruct_joint(margins, random_state=5, **options)
        again = reconstruct_joint(margins, random_state=5, **options)
        other = reconstruct_joint(margins, random_state=6, **options)
    pd.testing.assert_series_equal(first.table, again.table)
    assert not np.allclose(first.table.to_numpy(), other.table.to_numpy())
    assert first.diagnostics.loc["ELBO", "r_hat"] == "N/A (ADVI)"


def test_too_few_draws_warn_and_name_the_parameter():
    margins, seed = _regions()
    with pytest.warns(DiagnosticsWarning, match=r"poor convergence diagnostics: .*ESS of \w+(\[[^\]]+\])? = \d+ "
                                                 r"< min_ess=400"):
        result = reconstruct_joint(margins, seed=seed, method="bayes", draws=20, tune=20, chains=2,
                                   random_state=14, progress=False)
    assert not result.converged
    assert not result.diagnostics.loc["(all sampled)", "ok"]
    with pytest.raises(ConvergenceError, match=r"Pass on_bad_diagnostics='warn' to keep the result"):
        reconstruct_joint(margins, seed=seed, method="bayes", draws=20, tune=20, chains=2, random_state=14,
                          progress=False, on_bad_diagnostics="raise")


def test_unfinished_advi_warns():
    margins, seed = _regions()
    with pytest.warns(DiagnosticsWarning, match=r"the ADVI loss still moved by .* of its total decrease"):
        reconstruct_joint(margins, seed=seed, method="bayes", sampler="advi", advi_iterations=100,
                          learning_rate=0.001, draws=50, chains=1, random_state=15, progress=False)


def test_seed_categories_outside_the_margins_need_a_mapping():
    seed = pd.DataFrame({"a": ["a1", "a2", "a3"], "b": ["b1", "b2", "b2"]})
    with pytest.raises(MappingError, match=r"seed cell \{'a': 'a3', 'b': 'b2'\} uses categories the margins do "
                                           r"not list; pass `mapping`"):
        reconstruct_joint(MARGINS_2X2, seed=seed, method="bayes", progress=False)
    with pytest.raises(MappingError, match=r"seed column 'a' has categories with no entry in mapping\['a'\]"):
        reconstruct_joint(MARGINS_2X2, seed=seed, method="bayes", mapping={"a": {"a1": "a1", "a2": "a2"}})


def test_moe_must_name_known_regions():
    moe = {"Z": {"a": pd.Series({"a1": 1.0, "a2": 1.0})}}
    with pytest.raises(InputError, match=r"`moe` of reconstruct_joint\(method='bayes'\) must map regions of the "
                                         r"margins to \{margin key: Series\}; unknown regions: \['Z'\]"):
        reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="bayes", moe=moe)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("sampler", "gibbs", r"`sampler` of reconstruct_joint\(method='bayes'\) must be one of 'nuts', 'advi'; "
                         r"got 'gibbs'"),
    ("level", 1.5, r"`level` of reconstruct_joint\(method='bayes'\) must be a finite number in \(0, 1\); got 1.5"),
    ("draws", 0, r"`draws` of reconstruct_joint\(method='bayes'\) must be an int >= 1; got 0"),
    ("draws", 10.0, r"`draws` of reconstruct_joint\(method='bayes'\) must be an int >= 1; got 10.0"),
    ("noise", -0.1, r"`noise` of reconstruct_joint\(method='bayes'\) must be a finite number > 0; got -0.1"),
    ("max_rhat", 0.9, r"`max_rhat` of reconstruct_joint\(method='bayes'\) must be a finite number >= 1; got 0.9"),
    ("on_bad_diagnostics", "ignore", r"`on_bad_diagnostics` of reconstruct_joint\(method='bayes'\) must be "
                                     r"one of 'warn', 'raise'; got 'ignore'"),
    ("joint_draws", 0, r"`joint_draws` of reconstruct_joint\(method='bayes'\) must be an int >= 1; got 0"),
    ("target_accept", 1.0, r"`target_accept` of reconstruct_joint\(method='bayes'\) must be a finite number in "
                           r"\(0, 1\); got 1.0"),
    ("seed_size", 0, r"`seed_size` of reconstruct_joint\(method='bayes'\) must be a finite number > 0 or None; got 0"),
])
def test_bad_options_are_named(option, value, message):
    with pytest.raises(InputError, match=message):
        reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="bayes", **{option: value})


def test_the_old_name_of_level_still_works_for_one_release():
    with pytest.warns(DeprecationWarning, match=r"`interval` of reconstruct_joint is deprecated.*use `level`"):
        with pytest.raises(InputError, match=r"`level` of reconstruct_joint\(method='bayes'\) must be"):
            reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="bayes", interval=1.5)
    with pytest.raises(InputError, match=r"`bayes_options` of reconstruct_joint has unknown option\(s\) \['draw'\]"):
        reconstruct_joint(MARGINS_2X2, seed=SEED_2X2, method="bayes", draw=10)


def test_a_bayes_fit_prints_no_blas_warning():
    # A fresh process, as a user's first fit: pip-installed PyTensor finds no BLAS to link and used
    # to warn "could not link to a BLAS installation ... severely degraded" (a UserWarning) on every
    # fit. The model module links SciPy's bundled OpenBLAS instead. Warnings, logging and prints of
    # the whole fit go to the captured streams.
    script = textwrap.dedent("""
        import logging, warnings
        logging.basicConfig(level=logging.WARNING)
        warnings.simplefilter("always")
        import pandas as pd
        import pytensor
        from personacal.calibrate import Margins, reconstruct_joint
        seed = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.MultiIndex.from_product([["a1", "a2"], ["b1", "b2"]],
                                                                               names=["a", "b"]))
        margins = Margins({"a": {"a1": 40.0, "a2": 60.0}, "b": {"b1": 50.0, "b2": 50.0}}, name="R")
        result = reconstruct_joint(margins, seed=seed, method="bayes", sampler="advi", advi_iterations=300,
                                   draws=100, chains=1, random_state=0, progress=False)
        print("ldflags:", pytensor.config.blas__ldflags)
        print("total:", round(float(result.table.sum()), 6))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout + proc.stderr
    assert "BLAS" not in printed and "degraded" not in printed, printed
    assert "total: 100.0" in proc.stdout
    bundled = Path(scipy.__file__).resolve().parent.parent / "scipy.libs"
    if any(bundled.glob("libscipy_openblas-*.so")):  # a Linux SciPy wheel: its OpenBLAS is the one linked
        assert f"ldflags: -Wl,-L{bundled} -l:libscipy_openblas-" in proc.stdout
