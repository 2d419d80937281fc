"""What a Bayesian joint fit tells its user beyond the table: margin cells its posterior mean
misses by more than the margins' measurement error, and the notes on what the model assumed."""

from __future__ import annotations

import numpy as np

__all__ = ["BAYES_MARGIN_SDS", "bayes_missed_margins", "bayes_notes"]

# A posterior mean this many measurement-error SDs from a margin cell is a miss, not noise.
BAYES_MARGIN_SDS = 3.0


def bayes_missed_margins(mean_share: np.ndarray, margins, levels, regions) -> list[str]:
    """Margin cells whose posterior-mean share lies beyond BAYES_MARGIN_SDS of its measurement error."""
    cube = mean_share.reshape((len(regions), *levels))
    missed = []
    for m in margins:
        others = tuple(1 + a for a in range(len(levels)) if a not in m.axes)
        achieved = cube.sum(axis=others).reshape(len(regions), -1)
        z = np.abs(achieved - m.observed) / m.sd
        for i, j in zip(*np.nonzero(np.nan_to_num(z) > BAYES_MARGIN_SDS)):
            missed.append(f"region {regions[i]!r}, margin '{m.label}' cell {j}: share {achieved[i, j]:.4g} vs "
                          f"{m.observed[i, j]:.4g} ({z[i, j]:.1f} SD)")
    return missed


def bayes_notes(*, sampler, level, noise, moe, seed_size, interaction_scale, independent_of_seed, ipf_error,
                 smoothing, learned) -> tuple[str, ...]:
    notes = [
        f"bayes ({sampler}): posterior mean counts with {level:.0%} equal-tailed credible intervals; margins are "
        f"treated as noisy (relative SD {noise:g}{' plus the given MOEs' if moe is not None else ''}), so the "
        "posterior mean departs from them by up to about that much (IPF matches them exactly)",
    ]
    if learned is None:
        notes.append(f"seed used as multinomial data of effective size {seed_size:,.0f}, pooled nationally; regional "
                     f"two-way deviations are prior draws at scale HalfNormal({interaction_scale:g}) where no "
                     "multi-way margin informs them (pass seed_by= to learn them from regional seed rows)")
    else:
        seed_by, regions, sigma = learned
        median = sigma.median(dim=("chain", "draw")).to_numpy()
        notes.append(f"seed used as multinomial data of effective size {seed_size:,.0f} in {len(regions)} groups by "
                     f"{seed_by!r}, {int((regions >= 0).sum())} of them fitted regions; regional two-way interactions "
                     f"learned: between-region SD sigma_pair (prior HalfNormal({interaction_scale:g})) has posterior "
                     f"median {median.min():.2g}-{median.max():.2g} across pairs; fitted regions without seed rows "
                     "draw their deviations at that scale")
    if sampler == "advi":
        notes.append("ADVI (mean-field): its intervals ran ~7% narrower than NUTS's in the benchmark; R-hat/ESS "
                     "do not apply; use sampler='nuts' where the intervals matter")
    if independent_of_seed:
        notes.append(f"the seed lacks {list(independent_of_seed)}: their interactions come from priors and "
                     "multi-way margins only")
    if ipf_error > 1e-5:
        notes.append(f"IPF of some posterior draws stopped at relative margin error {ipf_error:.2g}")
    if smoothing:
        notes.append(f"seed mixed with {smoothing:.2%} of its own independence table before fitting")
    return tuple(notes)
