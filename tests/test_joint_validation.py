"""Joint reconstruction on real microdata: hide each region's joint, give only its margins.

Cases and scores live in tests/_joint_cases.py (shared with benchmarks/bench_joint.py,
which runs them with the full sampling budget and writes benchmarks/results/joint.md).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={tempfile.gettempdir()}/personacal-pytensor")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import _joint_cases as J  # noqa: E402
from personacal.calibrate import reconstruct_joint  # noqa: E402

# A small sampling budget keeps the tests quick, with convergence thresholds for that budget:
# 2 chains x 1,000 draws, bulk and tail ESS at least 100 per chain (Vehtari et al. 2021's rule, the
# same as the default 400 for 4 chains), and split R-hats within 0.02 of 1 (with 2 chains the
# largest of a few hundred wanders about 0.01 above 1 by chance alone). At 2 x 500 draws the
# default fit's tau_higher reached a bulk ESS of only 196-264. Every fit here must converge:
# a DiagnosticsWarning fails the test.
BUDGET = dict(draws=1000, tune=500, chains=2, progress=False, max_rhat=1.02, min_ess=200)
pytestmark = pytest.mark.filterwarnings("error::personacal.errors.DiagnosticsWarning")


def _mean_tvd(case, result) -> float:
    return float(np.mean([J.tvd(case.truth[r], result.for_region(r)) for r in case.truth]))


@pytest.fixture(scope="module")
def anes():
    return J.anes_case()


def test_anes_states_seed_structure_beats_independence(anes):
    # Six states' age x education x race joints (96 cells, 1,300-3,500 respondents each),
    # margins from each state, seed from every other state.
    independent = reconstruct_joint(anes.margins, method="independent", progress=False)
    ipf = reconstruct_joint(anes.margins, seed=anes.seed, method="ipf", smoothing=0.01, progress=False)
    bayes = reconstruct_joint(anes.margins, seed=anes.seed, method="bayes", random_state=21, **BUDGET)
    assert bayes.converged
    base = _mean_tvd(anes, independent)
    assert base > 0.10  # the interactions are real: independence misses a lot
    assert _mean_tvd(anes, ipf) < 0.7 * base
    assert _mean_tvd(anes, bayes) < 0.7 * base
    kl_independent = np.mean([J.kl(anes.truth[r], independent.for_region(r)) for r in anes.truth])
    kl_bayes = np.mean([J.kl(anes.truth[r], bayes.for_region(r)) for r in anes.truth])
    assert kl_bayes < 0.6 * kl_independent


def test_acs_language_groups_seed_structure_beats_independence():
    # ACS 2012 persons: seed from one random half, truth = the other half's English and
    # other-language speakers (2 x 6 x 3 x 3 x 2 = 216 cells).
    case = J.acs_case()
    independent = reconstruct_joint(case.margins, method="independent", progress=False)
    ipf = reconstruct_joint(case.margins, seed=case.seed, method="ipf", smoothing=0.01, progress=False)
    bayes = reconstruct_joint(case.margins, seed=case.seed, method="bayes", random_state=22, **BUDGET)
    assert bayes.converged
    base = _mean_tvd(case, independent)
    assert _mean_tvd(case, ipf) < 0.8 * base
    assert _mean_tvd(case, bayes) < 0.8 * base


def test_anes_credible_intervals_cover_held_out_respondents():
    # Each state's respondents split at random: one half gives the margins (with their
    # sampling MOEs), the other half is the truth. A calibrated posterior predicts the truth
    # half's cell counts as Multinomial(n, share): 90% of cells should have a randomised PIT
    # in [0.05, 0.95]. The point estimate (IPF, no posterior spread) covers only ~85%.
    # The states checked are not those whose check chose interaction_scale=0.2 (TUNING_STATES).
    # (seed_by="state", the learned regional interactions, is measured on these splits in
    # benchmarks/results/joint_hierarchy_quick.md: it needs more draws than this budget to converge.)
    case = J.anes_split_case(states=J.CHECK_STATES)
    assert not set(J.CHECK_STATES) & set(J.TUNING_STATES)
    result = reconstruct_joint(case.margins, seed=case.seed, method="bayes", moe=case.moe, noise=1e-3,
                               random_state=23, **BUDGET)
    assert result.converged
    rng = np.random.default_rng(24)
    share = result.posterior.joint["share"]
    pits = []
    for region, truth in case.truth.items():
        counts = truth.reindex(result.for_region(region).index).to_numpy()
        draws = share.sel(region=region).to_numpy().reshape(-1, counts.size)
        pits.append(J.predictive_pit(counts, draws, rng))
    pits = np.concatenate(pits)
    coverage = np.mean((pits >= 0.05) & (pits <= 0.95))
    assert 0.87 <= coverage <= 0.97
    assert np.mean(pits < 0.05) < 0.08 and np.mean(pits > 0.95) < 0.08  # neither tail is overloaded
