"""Meta personas: whole persons drawn from a reconstructed joint, per region."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._random import check_random_state
from ..calibrate import JointResult, controlled_round
from .._validation import InstanceOf, Interval, Options, check_param, check_params
from ..errors import InputError, InvalidValueError

__all__ = ["sample_meta_personas", "DRAWS"]

#: How personas are drawn from the joint's cell shares.
DRAWS = ("integerize", "multinomial")


def _regions(joint) -> dict[str, pd.Series]:
    check_param("sample_meta_personas", "joint", joint,
                InstanceOf(JointResult, pd.Series, name="a JointResult or a joint Series"))
    if isinstance(joint, JointResult):
        return {r: joint.for_region(r) for r in joint.regions}
    if joint.index.names[0] == "region":
        return {str(r): block.droplevel("region") for r, block in joint.groupby(level="region", sort=False)}
    return {"all": joint}


def sample_meta_personas(
    joint,
    n: int,
    *,
    random_state=None,
    draw: str = "integerize",
    regions: list[str] | None = None,
) -> pd.DataFrame:
    """Draw ``n`` personas per region from a joint distribution of census attributes.

    Parameters
    ----------
    joint
        A :class:`~personacal.calibrate.JointResult` (one or many regions) or a
        joint count Series (optionally with a leading ``region`` level).
    draw
        ``"integerize"`` (default): every cell gets the floor or the ceiling of
        its expected count n × share, chosen so that each attribute's realised
        margin equals its largest-remainder rounding (see
        :func:`~personacal.calibrate.controlled_round`): the
        realised margins are as close to the targets as integers allow. ``"multinomial"``: n independent draws, as
        the seed paper sampled its personas.

    Returns
    -------
    DataFrame with ``persona_id`` (``<region>-<6 digits>``, stable for a given
    joint, n and seed), ``region`` and one column per attribute.
    """
    check_params("sample_meta_personas", {"draw": Options(DRAWS), "n": Interval("int", 1, None)},
                 {"draw": draw, "n": n})
    rng = check_random_state(random_state, func="sample_meta_personas")
    by_region = _regions(joint)
    if regions is not None:
        unknown = [r for r in regions if r not in by_region]
        if unknown:
            raise InputError(f"`regions` {unknown} are not in the joint; it holds {list(by_region)[:12]}")
        by_region = {r: by_region[r] for r in regions}
    frames = []
    for region, table in by_region.items():
        values = table.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or (values < 0).any() or values.sum() <= 0:
            raise InvalidValueError(f"joint of region {region!r} must hold finite, non-negative counts with a positive sum")
        shares = values / values.sum()
        if draw == "integerize":
            groups = [table.index.codes[level].astype(np.int64) for level in range(table.index.nlevels)]
            counts = controlled_round(shares * n, groups, random_state=rng)
        else:
            counts = rng.multinomial(n, shares)
        cells = np.repeat(np.arange(len(values)), counts)
        rng.shuffle(cells)  # row order carries no information about the cell
        attributes = table.index[cells].to_frame(index=False)
        attributes.insert(0, "region", region)
        attributes.insert(0, "persona_id", [f"{region}-{i:06d}" for i in range(n)])
        frames.append(attributes)
    return pd.concat(frames, ignore_index=True)
