"""The end-to-end jobs as a documented public workflow: ``personacal demo`` and ``personacal run``.

The policy that used to be scattered over private modules is explicit here, as parameters
and config keys with explained defaults:

- :func:`run_demo` -- the main job on the shipped data: state joints from ACS/PEP margins,
  Meta personas, a paper-style pool raked to census margins, and (with an LLM backend) the
  persona tiers simulating the 2024 election, raked per tier and judged raw vs calibrated
  with the paired verdict; without a backend, the demographic respondent model
  (:mod:`personacal.workflow._offline`, not an LLM) answers party ID and the verdict is scored
  against ANES MRP state party ID. Returns a :class:`WorkflowResult` (per-region calibration records,
  the targets and their sources, the verdict) and writes the report + ``summary.json``.
- :func:`run_config` / :func:`load_config` / :class:`RunConfig` -- the same on your own
  margins, personas, questions and backend (``personacal run config.toml``; every key is
  documented in :class:`RunConfig`'s module, unknown keys are errors).
- :func:`calibrate_regions` / :class:`RegionCalibration` -- per-region raking with the policy
  for margins a region's personas cannot meet (``on_infeasible``: "raise" (default),
  "collapse", "drop"), recorded per region and margin as "met", "merged" or "dropped".
- :func:`census_targets`, :func:`partisan_targets`, :func:`target_sources` -- what the
  workflow rakes to and why: census margins first (:data:`CENSUS_KEYS`), then the partisan
  margin (:data:`PARTISAN`; default "past_vote": the recalled 2020 vote to each state's 2020
  result), in the order :data:`PRIORITY` (the partisan margin gives way first).

Defaults and why:

- ``partisan="past_vote"``: the 2020 result is known exactly (certified returns), so raking a
  tier's recalled 2020 vote to it removes the partisan lean the seed paper found without
  borrowing from an old survey; the 2024 evaluation stays out of sample. The ANES-based
  party-ID targets miss weighted national figures by 13 points (+12.4 D-R against -0.6) and are
  only used when asked for (``partisan="party_id"``).
- ``on_infeasible="raise"`` in the API and in ``personacal run``: a region whose personas cannot
  meet its margins is a finding, not something to paper over. ``personacal demo`` passes "drop"
  (``--on-infeasible``), because its pools are small random draws: a rare group (e.g. Black
  residents of Wyoming) is often empty, and a few dozen LLM-tier personas over six margins often
  cannot meet them all even after merges (measured: 29 Descriptive personas in CA on the tiny
  test model). The report lists every merge and drop per state and tier.
- ``n_boot=1000``, ``interval_method="bca"``: the verdict's paired bootstrap, chosen by the
  coverage simulation in ``benchmarks/paired_verdict.py``; each replicate redoes the tier's
  raking, so the change's interval includes what estimating the weights costs.
"""

from ._config import RunConfig, load_config
from ._custom import make_config_backend, run_config
from ._demo import HELD_OUT, run_demo
from ._policy import MERGE_INTO, ON_INFEASIBLE, RegionCalibration, calibrate_regions
from ._result import WorkflowResult
from ._targets import CENSUS_KEYS, PARTISAN, PRIORITY, census_targets, partisan_targets, target_sources

__all__ = [
    "run_demo",
    "run_config",
    "load_config",
    "make_config_backend",
    "RunConfig",
    "WorkflowResult",
    "calibrate_regions",
    "RegionCalibration",
    "ON_INFEASIBLE",
    "MERGE_INTO",
    "census_targets",
    "partisan_targets",
    "target_sources",
    "CENSUS_KEYS",
    "PARTISAN",
    "PRIORITY",
    "HELD_OUT",
]
