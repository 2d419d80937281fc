"""Tests of personacal.evaluate.compare, Comparison plots, write_report and ``personacal evaluate``.

Expected numbers are worked out by hand in the comments: errors are
simulated - actual Democratic two-party shares; lean = mean signed error;
alignment (elections) = 1 - MAE; winner correct when both shares sit on the
same side of 0.5.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from personacal.calibrate import Margins, rake
from personacal.cli import main
from personacal.errors import (
    InputError,
    InvalidValueError,
    MismatchError,
    MissingValueError,
)
from personacal.evaluate import Comparison, compare, composition_error, write_report

PAPER_TIERS = ["Meta", "Objective Tabular", "Subjective Tabular", "Descriptive"]
TRUTH = pd.DataFrame({"state": ["AA", "BB", "CC"], "dem_two_party_share": [0.60, 0.40, 0.45]})
# raw errors +.10, +.15, +.05 -> MAE .10, lean +.10; winners D/D ok, D/R wrong, D(.50 is a tie)/R wrong -> 1/3
RAW = pd.DataFrame({"state": ["AA", "BB", "CC"], "dem_two_party_share": [0.70, 0.55, 0.50]})
# calibrated errors +.02, +.02, -.01 -> MAE .05/3, lean .03/3 = .01; all winners right -> 1
CAL = pd.DataFrame({"state": ["AA", "BB", "CC"], "dem_two_party_share": [0.62, 0.42, 0.44]})


def _headline(c: Comparison, version: str, stat: str, tier: str = "all") -> float:
    h = c.headline()
    return float(h.loc[(h.tier == tier) & (h.version == version) & (h.statistic == stat), "estimate"].iloc[0])


# --------------------------------------------------------------------------- numbers
def test_election_shares_by_hand():
    c = compare(RAW, CAL, TRUTH)
    assert c.kind == "election" and c.tiers == ()
    assert _headline(c, "raw", "mae") == pytest.approx(0.10)
    assert _headline(c, "raw", "mean_signed_error") == pytest.approx(0.10)
    assert _headline(c, "raw", "winner_accuracy") == pytest.approx(1 / 3)
    assert _headline(c, "raw", "alignment") == pytest.approx(0.90)
    assert _headline(c, "calibrated", "mae") == pytest.approx(0.05 / 3)
    assert _headline(c, "calibrated", "mean_signed_error") == pytest.approx(0.01)
    assert _headline(c, "calibrated", "winner_accuracy") == pytest.approx(1.0)
    changes = c.to_frame("change").set_index("statistic")
    assert changes.loc["mae", "change"] == pytest.approx(0.05 / 3 - 0.10)
    assert changes.loc["mean_signed_error", "change"] == pytest.approx(-0.09)
    # Aggregated shares cannot be resampled: no interval of the change, so nothing is called improved.
    assert changes["improved"].tolist() == ["no detectable change"] * 5
    assert changes["raw_ci_low"].isna().all() and changes["change_ci_low"].isna().all()
    assert any("nothing is called improved" in n for n in c.notes)
    states = c.to_frame("state")
    bb = states[(states.version == "raw") & (states.state == "BB")].iloc[0]
    assert bb["signed_error"] == pytest.approx(0.15) and not bb["winner_correct"]
    text = c.summary().as_text()
    assert "raw +10.00 pp -> calibrated +1.00 pp" in text  # the lean, in percentage points
    assert "raw 10.00 pp -> calibrated 1.67 pp" in text  # the MAE


def _voters(leans: dict[str, float], n: int = 200) -> pd.DataFrame:
    """``n`` personas per state of TRUTH voting D with probability actual + lean (a logprob-style answer)."""
    rows = []
    for state, actual in zip(TRUTH.state, TRUTH.dem_two_party_share):
        for i in range(n):
            p = actual + leans[state]
            rows += [(f"{state}{i}", state, "D", p), (f"{state}{i}", state, "R", 1 - p)]
    return pd.DataFrame(rows, columns=["persona_id", "state", "party", "probability"])


def test_improved_flags_follow_each_statistic():
    # The same personas twice; every persona of a state answers alike, so resampling cannot move a
    # state's share: the paired intervals of the changes collapse onto the changes themselves.
    raw = _voters({"AA": 0.10, "BB": 0.15, "CC": 0.05})
    cal = _voters({"AA": -0.05, "BB": -0.05, "CC": -0.05})
    c = compare(raw, cal, TRUTH, n_boot=200, random_state=0)
    ch = c.changes().set_index("statistic")
    # lean +.10 -> -.05: |lean| falls by .05 (improved although the signed change is -.15)
    assert ch.loc["mean_signed_error", "change"] == pytest.approx(-0.15)
    assert ch.loc["mean_signed_error", "abs_change"] == pytest.approx(-0.05)
    assert ch.loc["mean_signed_error", "better_if"] == "closer to 0"
    # winners raw: AA .70 D ok, BB .55 D wrong, CC .50 tie wrong -> 1/3; calibrated .55 .35 .40 -> 1
    assert ch.loc["winner_accuracy", "change"] == pytest.approx(2 / 3)
    assert ch["improved"].tolist() == [True] * 5 and set(ch["verdict"]) == {"improved"}
    assert c.paired["all"].pairing == "paired"
    # calibrated worse: every verdict flips to False ("worse")
    worse = compare(cal, raw, TRUTH, n_boot=200, random_state=0).changes()
    assert worse["improved"].tolist() == [False] * 5 and set(worse["verdict"]) == {"worse"}


def test_tiers_in_one_call_sorted_in_paper_order():
    rows = []
    # Descriptive personas lean +.20 everywhere, Meta +.02; calibrated removes half of it.
    for tier, lean in (("Descriptive", 0.20), ("Meta", 0.02)):
        for state, actual in zip(TRUTH.state, TRUTH.dem_two_party_share):
            rows.append({"tier": tier, "state": state, "raw": actual + lean, "cal": actual + lean / 2})
    frame = pd.DataFrame(rows)
    raw = frame.rename(columns={"raw": "dem_two_party_share"}).drop(columns="cal")
    cal = frame.rename(columns={"cal": "dem_two_party_share"}).drop(columns="raw")
    c = compare(raw, cal, TRUTH)
    assert c.tiers == ("Meta", "Descriptive")  # the paper's order, not the order of appearance
    assert _headline(c, "raw", "mean_signed_error", "Descriptive") == pytest.approx(0.20)
    assert _headline(c, "calibrated", "mean_signed_error", "Descriptive") == pytest.approx(0.10)
    assert _headline(c, "raw", "alignment", "Meta") == pytest.approx(0.98)
    assert _headline(c, "calibrated", "alignment", "Meta") == pytest.approx(0.99)
    # Descriptive raw: AA .80 ok, BB .60 wrong, CC .65 wrong -> 1/3
    assert _headline(c, "raw", "winner_accuracy", "Descriptive") == pytest.approx(1 / 3)
    assert list(c.headline()["tier"].unique()) == ["Meta", "Descriptive"]
    assert c.result("raw", "Descriptive").mae == pytest.approx(0.20)
    assert "lean [Descriptive]" in c.summary().as_text()
    # an explicit order wins
    assert compare(raw, cal, TRUTH, tiers=["Descriptive", "Meta"]).tiers == ("Descriptive", "Meta")
    # and tier_column=None ignores the column: the two tiers' rows then collide per state
    with pytest.raises(InputError, match=r"`raw` of compare: .*more than one row for state"):
        compare(raw, cal, TRUTH, tier_column=None)


def _persona_votes() -> pd.DataFrame:
    # AA: p1 votes D, p2 votes R; BB: p3 R, p4 R (.5 D / .5 R), CC: p5 D, p6 60% D 40% R
    rows = [("p1", "AA", "D", 1.0), ("p1", "AA", "R", 0.0), ("p2", "AA", "R", 1.0),
            ("p3", "BB", "R", 1.0), ("p4", "BB", "D", 0.5), ("p4", "BB", "R", 0.5),
            ("p5", "CC", "D", 1.0), ("p6", "CC", "D", 0.6), ("p6", "CC", "R", 0.4)]
    frame = pd.DataFrame(rows, columns=["persona_id", "state", "party", "probability"])
    weights = {"p1": 3.0, "p2": 1.0, "p3": 1.0, "p4": 1.0, "p5": 1.0, "p6": 4.0}
    frame["weight"] = frame["persona_id"].map(weights)
    return frame


def test_persona_level_weights_bootstrap_and_weight_diagnostics():
    votes = _persona_votes()
    c = compare(votes, votes, TRUTH, weights="weight", n_boot=50, random_state=3)
    raw, cal = c.result("raw").per_state.set_index("state"), c.result("calibrated").per_state.set_index("state")
    # unweighted: AA 1/2, BB .5/2 = .25, CC 1.6/2 = .8
    assert raw["simulated"].tolist() == pytest.approx([0.5, 0.25, 0.8])
    # weighted: AA 3/4, BB .25, CC (1 + 4*.6)/5 = .68
    assert cal["simulated"].tolist() == pytest.approx([0.75, 0.25, 0.68])
    head = c.headline()
    assert head[["ci_low", "ci_high"]].notna().all().all()
    again = compare(votes, votes, TRUTH, weights="weight", n_boot=50, random_state=3).headline()
    pd.testing.assert_frame_equal(head, again)  # seeded: reproducible
    # weight diagnostics per state from the calibrated weights: AA (3, 1): ESS 16/10 = 1.6, deff 2/1.6 = 1.25
    diag = c.to_frame("weights").set_index("region")
    assert diag.loc["AA", "ess"] == pytest.approx(1.6)
    assert diag.loc["AA", "ess_ratio"] == pytest.approx(0.8)
    assert diag.loc["AA", "design_effect"] == pytest.approx(1.25)
    assert diag.loc["AA", "weight_ratio"] == pytest.approx(3.0)
    assert diag.loc["BB", "design_effect"] == pytest.approx(1.0)
    assert "bootstrap" in c.summary().facts and "50 replicates" in c.summary().facts["bootstrap"]


def test_bootstrap_only_where_personas_were_given():
    votes = _persona_votes()
    c = compare(RAW, votes, TRUTH, n_boot=20, random_state=1)
    h = c.headline()
    assert h[h.version == "raw"]["ci_low"].isna().all()
    assert h[h.version == "calibrated"]["ci_low"].notna().all()
    assert any("raw: aggregated answers were given" in n for n in c.notes)


def test_simulate_output_with_several_questions_and_partyless_option():
    # simulate writes a 'region' column, one row per option, party NaN for "Would not vote".
    rows = []
    for pid, region, (d, r, none) in (("a", "AA", (0.5, 0.3, 0.2)), ("b", "BB", (0.2, 0.6, 0.2)),
                                      ("c", "CC", (0.3, 0.3, 0.4))):
        for q in ("election-2020", "election-2024"):
            for option, party, p in (("Biden/Harris", "D", d), ("Trump", "R", r), ("Would not vote", None, none)):
                rows.append((pid, region, q, option, party, p))
    sim = pd.DataFrame(rows, columns=["persona_id", "region", "question_id", "option", "party", "probability"])
    sim["party"] = sim["party"].astype("string")
    truth = TRUTH.rename(columns={"state": "region"})
    with pytest.raises(InputError, match=r"holds answers to 2 questions .*pass question="):
        compare(sim, sim, truth, state_col="region")
    with pytest.raises(MismatchError, match="`question` 'election-2016' of compare is not in column 'question_id'"):
        compare(sim, sim, truth, state_col="region", question="election-2016")
    c = compare(sim, sim, truth, state_col="region", question="election-2024")
    # two-party shares: AA .5/.8 = .625, BB .2/.8 = .25, CC .3/.6 = .5
    assert c.result("raw").per_state["simulated"].tolist() == pytest.approx([0.625, 0.25, 0.5])
    assert any("Would not vote" in n for n in c.notes)


def test_states_left_out_are_noted_and_sets_must_match():
    truth = pd.concat([TRUTH, pd.DataFrame({"state": ["DD"], "dem_two_party_share": [0.5]})], ignore_index=True)
    c = compare(RAW, CAL, truth)
    assert any("1 state(s) of the truth were not simulated in raw, calibrated" in n and "DD" in n for n in c.notes)
    with pytest.raises(MismatchError, match=r"cover different states: only raw: \['CC'\]; only calibrated: \[\]"):
        compare(RAW, CAL.iloc[:2], TRUTH)


def _opinion_reference() -> pd.DataFrame:
    return pd.DataFrame({"question_id": "q1", "option": ["a", "b", "c"], "position": [1.0, 2.0, 3.0],
                         "share": [0.2, 0.3, 0.5]})


def test_opinion_alignment_by_hand():
    ref = _opinion_reference()
    # raw (.5, .3, .2): CDFs (.5, .8) vs (.2, .5) -> W1 = .3 + .3 = .6, / (3 - 1) = .3 -> alignment .7
    raw = ref.drop(columns="share").assign(probability=[0.5, 0.3, 0.2])
    cal = ref.drop(columns="share").assign(probability=[0.2, 0.3, 0.5])  # identical -> 1
    c = compare(raw, cal, ref)
    assert c.kind == "opinion"
    assert _headline(c, "raw", "alignment") == pytest.approx(0.7)
    assert _headline(c, "raw", "mean_wd") == pytest.approx(0.3)
    assert _headline(c, "calibrated", "alignment") == pytest.approx(1.0)
    assert c.to_frame("question")["wd"].tolist() == pytest.approx([0.3, 0.0])
    assert set(c.skipped_figures()) >= {"states", "lean"}
    with pytest.raises(InputError, match="`level` 'state' of Comparison.to_frame needs an election comparison"):
        c.to_frame("state")


def test_opinion_tiers_persona_level_with_weights():
    ref = _opinion_reference()
    rows = []
    # Meta: m1 answers a, m2 answers c; Descriptive: d1 a, d2 a
    for pid, tier, option in (("m1", "Meta", "a"), ("m2", "Meta", "c"), ("d1", "Descriptive", "a"),
                              ("d2", "Descriptive", "a")):
        rows.append((pid, tier, "q1", option, 1.0))
    sim = pd.DataFrame(rows, columns=["persona_id", "tier", "question_id", "option", "probability"])
    sim["w"] = sim["persona_id"].map({"m1": 1.0, "m2": 3.0, "d1": 1.0, "d2": 1.0})
    c = compare(sim, sim, ref, weights="w")
    # raw Meta (.5, 0, .5): CDFs (.5, .5) vs (.2, .5) -> .3 / 2 = .15 -> .85
    assert _headline(c, "raw", "alignment", "Meta") == pytest.approx(0.85)
    # calibrated Meta (.25, 0, .75): CDFs (.25, .25) vs (.2, .5) -> (.05 + .25) / 2 = .15 -> .85
    assert _headline(c, "calibrated", "alignment", "Meta") == pytest.approx(0.85)
    # Descriptive (1, 0, 0): CDFs (1, 1) vs (.2, .5) -> (.8 + .5) / 2 = .65 -> .35
    assert _headline(c, "raw", "alignment", "Descriptive") == pytest.approx(0.35)
    assert c.tiers == ("Meta", "Descriptive")
    diag = c.to_frame("weights").set_index("tier")
    assert diag.loc["Meta", "weight_ratio"] == pytest.approx(3.0)  # no state column: one region per tier
    assert diag.loc["Meta", "region"] == "all"


def _composition_pair():
    margins = Margins.from_shares({"age": {"young": 0.3, "old": 0.7}, "sex": {"F": 0.5, "M": 0.5}}, total=100)
    personas = pd.DataFrame({"age": ["young", "old", "old", "old"], "sex": ["F", "M", "F", "M"]})
    # raw: age (.25, .75) -> TVD .05; sex (.5, .5) -> 0. weighted (1.2, 0.933.., ...) hits age exactly
    w = np.array([1.2, 2.8 / 3, 2.8 / 3, 2.8 / 3])
    return composition_error(personas, margins), composition_error(personas, margins, weights=w)


def test_composition_and_regional_weight_diagnostics_are_carried():
    raw_comp, cal_comp = _composition_pair()
    sample = pd.DataFrame({"state": ["AA", "AA", "AA", "BB", "BB"], "sex": ["F", "F", "M", "F", "M"]})
    margins = {"AA": Margins({"sex": pd.Series({"F": 50.0, "M": 50.0})}),
               "BB": Margins({"sex": pd.Series({"F": 30.0, "M": 30.0})})}
    regional = rake(sample, margins, by="state")
    c = compare(RAW, CAL, TRUTH, composition=(raw_comp, cal_comp), weight_diagnostics=regional)
    comp = c.to_frame("composition").set_index(["version", "margin"])
    assert comp.loc[("raw", "age"), "tvd"] == pytest.approx(0.05)
    assert comp.loc[("calibrated", "age"), "tvd"] == pytest.approx(0.0, abs=1e-12)
    diag = c.to_frame("weights").set_index("region")
    # AA: weights 25, 25, 50 -> ESS 100^2 / 3750 = 8/3, ESS/n = 8/9, deff 1.125, max/min 2
    assert diag.loc["AA", "ess_ratio"] == pytest.approx(8 / 9)
    assert diag.loc["AA", "design_effect"] == pytest.approx(1.125)
    assert diag.loc["AA", "weight_ratio"] == pytest.approx(2.0)
    assert diag.loc["BB", "design_effect"] == pytest.approx(1.0)
    # a plain table with ess and rows works too: ess_ratio = ess / rows
    table = pd.DataFrame({"state": ["AA"], "rows": [10], "ess": [4.0], "design_effect": [2.5], "weight_ratio": [7.0]})
    diag2 = compare(RAW, CAL, TRUTH, weight_diagnostics=table).to_frame("weights")
    assert diag2["ess_ratio"].tolist() == pytest.approx([0.4]) and diag2["region"].tolist() == ["AA"]
    assert "composition: TVD per margin" in c.summary().tables


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"truth": pd.DataFrame({"state": ["AA"], "x": [1]})}, InputError, "must be election results"),
        ({"raw": RAW.assign(tier="Meta")}, MismatchError, "`calibrated` of compare lacks the tier column 'tier'"),
        ({"tier_column": "level"}, InputError, "`tier_column` 'level' of compare is not a column"),
        ({"tiers": ["Meta"], "tier_column": None}, InputError, "`tiers` of compare needs `tier_column`"),
        ({"n_boot": 10}, InputError, "needs persona-level answers"),
        ({"n_boot": -1}, InputError, r"`n_boot` of compare must be an int >= 0 or None; got -1"),
        ({"level": 1.5}, InputError, r"`level` of compare must be a finite number in \(0, 1\); got 1\.5"),
        ({"group": "party"}, InputError, "`group` and `strata` of compare apply to opinion comparisons"),
        ({"raw": [1, 2]}, InputError, r"`raw` of compare must be a pandas DataFrame; got \[1, 2\]"),
        ({"composition": 3}, InputError, "`composition` of compare must be a mapping"),
        ({"composition": {"raw": "x"}}, InputError, r"`composition\['raw'\]` of compare must be a CompositionResult"),
        ({"composition": {"before": None}}, InputError, "`composition` of compare has key 'before'"),
        ({"weight_diagnostics": 5}, InputError, "`weight_diagnostics` of compare must be a RegionalResult"),
        ({"weight_diagnostics": pd.DataFrame({"region": ["AA"], "design_effect": [1.0]})}, InputError,
         r"`weight_diagnostics` of compare lacks column\(s\) \['weight_ratio', 'ess_ratio'\]"),
        ({"weight_diagnostics": pd.DataFrame({"region": ["AA"], "design_effect": ["big"], "weight_ratio": [1.0],
                                              "ess_ratio": [1.0]})}, InvalidValueError,
         "column 'design_effect' of `weight_diagnostics` \\(compare\\) must be numeric"),
        ({"calibrated": CAL.assign(dem_two_party_share=[0.6, 1.2, 0.4])}, InputError,
         r"`calibrated` of compare: 'dem_two_party_share' of `simulated` \(election_errors\) must lie in \[0, 1\]"),
        ({"weights": "w"}, InputError, "`calibrated` of compare: `weights` and `n_boot` of election_errors need"),
    ],
)
def test_compare_errors(kwargs, error, match):
    args = {"raw": RAW, "calibrated": CAL, "truth": TRUTH} | kwargs
    with pytest.raises(error, match=match):
        compare(args.pop("raw"), args.pop("calibrated"), args.pop("truth"), **args)


def test_tier_errors():
    raw = pd.concat([RAW.assign(tier="Meta"), RAW.assign(tier="Descriptive")], ignore_index=True)
    with pytest.raises(MismatchError, match=r"has tier\(s\) \['Descriptive'\] that `tiers` does not list"):
        compare(raw, raw, TRUTH, tiers=["Meta"])
    with pytest.raises(MismatchError, match=r"lists tier\(s\) \['Other'\] that neither"):
        compare(raw, raw, TRUTH, tiers=["Meta", "Descriptive", "Other"])
    with pytest.raises(InputError, match="`tiers` of compare repeats a tier"):
        compare(raw, raw, TRUTH, tiers=["Meta", "Meta", "Descriptive"])
    gap = raw.astype({"tier": object})
    gap.loc[0, "tier"] = None
    with pytest.raises(MissingValueError, match="column 'tier' of `raw` \\(compare\\) has 1 missing value"):
        compare(gap, raw, TRUTH)
    # an error inside one tier names the table and the tier
    bad = raw.copy()
    bad.loc[bad.tier == "Descriptive", "dem_two_party_share"] = -0.1
    with pytest.raises(InputError, match=r"`calibrated` \(tier 'Descriptive'\) of compare: column"):
        compare(raw, bad, TRUTH)
    # a tier one version lacks is reported, not invented
    c = compare(raw, raw[raw.tier == "Meta"], TRUTH)
    assert ("Descriptive", "calibrated") not in c.results
    assert any("tier 'Descriptive' has no calibrated rows" in n for n in c.notes)
    assert np.isnan(c.changes().set_index(["tier", "statistic"]).loc[("Descriptive", "mae"), "change"])


def test_comparison_accessor_errors():
    c = compare(RAW, CAL, TRUTH)
    with pytest.raises(InputError, match="`level` of Comparison.to_frame must be one of"):
        c.to_frame("person")
    with pytest.raises(InputError, match="no composition results were given"):
        c.to_frame("composition")
    with pytest.raises(InputError, match="no weight diagnostics"):
        c.to_frame("weights")
    with pytest.raises(InputError, match="`version` of Comparison.result must be one of 'raw', 'calibrated'"):
        c.result("after")
    with pytest.raises(InputError, match="has no raw result for tier 'Meta'"):
        c.result("raw", "Meta")
    with pytest.raises(InputError, match="`which` of Comparison.plot must be one of"):
        c.plot("pie")
    with pytest.raises(InputError, match="figure 'alignment_by_tier' of Comparison.plot is not available: no persona"):
        c.plot("alignment_by_tier")
    with pytest.raises(InputError, match="figure 'composition' of Comparison.plot is not available"):
        c.plot("composition")


# --------------------------------------------------------------------------- plots
def _tiered_example(n_per_state: int = 3, seed: int = 11):
    """4 tiers x the 3 states, persona-level votes; leans grow with the tier as in the seed paper."""
    rng = np.random.default_rng(seed)
    rows, pid = [], 0
    for tier, lean in zip(PAPER_TIERS, (0.02, 0.05, 0.08, 0.12)):
        for state, actual in zip(TRUTH.state, TRUTH.dem_two_party_share):
            for d in np.clip(rng.normal(actual + lean, 0.1, n_per_state), 0.05, 0.95):
                pid += 1
                rows += [(f"p{pid}", tier, state, "D", d, 1.0 + d), (f"p{pid}", tier, state, "R", 1 - d, 1.0 + d)]
    return pd.DataFrame(rows, columns=["persona_id", "tier", "state", "party", "probability", "weight"])


def _texts(fig: Figure) -> dict:
    axes = fig.get_axes()
    return {
        "xlabels": [a.get_xlabel() for a in axes],
        "ylabels": [a.get_ylabel() for a in axes],
        "titles": [a.get_title() for a in axes] + [fig._suptitle.get_text() if fig._suptitle else ""],
    }


def test_plots_are_labelled():
    votes = _tiered_example()
    c = compare(votes, votes, TRUTH, weights="weight", n_boot=20, random_state=0, composition=_composition_pair())
    figures = c.plot()
    assert list(figures) == ["states", "alignment_by_tier", "alignment", "lean", "composition", "weights"]
    assert all(isinstance(f, Figure) for f in figures.values())
    for name, fig in figures.items():
        t = _texts(fig)
        assert all(t["xlabels"]), name  # every axis has an x label
        assert t["ylabels"][0], name
        assert any(t["titles"]), name
    states = figures["states"]
    assert [a.get_title() for a in states.get_axes()] == PAPER_TIERS
    # rows sorted by actual share (BB .40, CC .45, AA .60), postal codes as tick labels on every panel
    for ax in states.get_axes():
        assert [t.get_text() for t in ax.get_yticklabels()] == ["BB", "CC", "AA"]
    assert "Democratic two-party share (%)" in _texts(states)["xlabels"]
    assert "percentage points" in figures["lean"].get_axes()[0].get_xlabel()
    assert "95% bootstrap CI" in figures["lean"].get_axes()[0].get_title()
    tier_ticks = [t.get_text().replace("\n", " ") for t in figures["alignment_by_tier"].get_axes()[0].get_xticklabels()]
    assert tier_ticks == PAPER_TIERS
    assert [t.get_text() for t in figures["alignment"].get_axes()[0].get_xticklabels()] == ["Raw", "Calibrated"]
    # max/min weight ratios within one decade: a linear axis (a log axis would show a single tick)
    assert figures["weights"].get_axes()[2].get_xscale() == "linear"
    assert {t.get_text() for t in figures["composition"].get_axes()[0].get_yticklabels()} == {"age", "sex"}


def test_opinion_questions_plot():
    ref = _opinion_reference()
    raw = ref.drop(columns="share").assign(probability=[0.5, 0.3, 0.2])
    fig = compare(raw, raw, ref).plot("questions")
    ax = fig.get_axes()[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["q1"]
    assert ax.get_xlabel() == "Alignment, 1 − normalised W1"


# --------------------------------------------------------------------------- report
def test_write_report_files_and_links(tmp_path):
    votes = _tiered_example()
    c = compare(votes, votes, TRUTH, weights="weight", composition=_composition_pair())
    stale = tmp_path / "questions.png"
    stale.write_bytes(b"old")
    index = write_report(c, tmp_path, notes=["no LLM backend configured: simulation steps skipped"])
    assert index == tmp_path / "index.html"
    page = index.read_text(encoding="utf-8")
    expected = ["states", "alignment_by_tier", "alignment", "lean", "composition", "weights"]
    for name in expected:
        png = tmp_path / f"{name}.png"
        assert png.exists() and png.stat().st_size > 1000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"src='{name}.png'" in page
    assert not stale.exists()  # an opinion-only figure of an earlier report is removed
    assert "questions.png" not in page
    assert page.count("How to read this.") == len(expected)
    assert "no LLM backend configured: simulation steps skipped" in page
    assert "Figure &#x27;questions&#x27; skipped: per-question alignment is drawn for opinion" in page
    assert "<table" in page and "Per state" in page


def test_write_report_without_optional_parts_lists_what_was_skipped(tmp_path):
    index = write_report(compare(RAW, CAL, TRUTH), tmp_path / "new" / "dir", title="Three states")
    page = index.read_text(encoding="utf-8")
    assert "<title>Three states</title>" in page
    assert sorted(p.name for p in index.parent.glob("*.png")) == ["alignment.png", "lean.png", "states.png"]
    assert "Figure &#x27;composition&#x27; skipped: no composition results were given" in page
    assert "Figure &#x27;weights&#x27; skipped: no weight diagnostics" in page
    assert "No intervals are drawn: no bootstrap was run." in page


def test_write_report_errors(tmp_path):
    c = compare(RAW, CAL, TRUTH)
    with pytest.raises(InputError, match="`comparison` of write_report must be a Comparison"):
        write_report(RAW, tmp_path)
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(InputError, match="`folder` of write_report must be a directory"):
        write_report(c, target)
    with pytest.raises(InputError, match=r"`dpi` of write_report must be an int in \[50, 600\]"):
        write_report(c, tmp_path, dpi=5)


# --------------------------------------------------------------------------- CLI
def test_cli_small_csvs(tmp_path, capsys):
    raw = pd.concat([RAW.assign(tier="Meta"), RAW.assign(tier="Descriptive")], ignore_index=True)
    cal = pd.concat([CAL.assign(tier="Meta"), CAL.assign(tier="Descriptive")], ignore_index=True)
    raw.to_csv(tmp_path / "raw.csv", index=False)
    cal.to_parquet(tmp_path / "cal.parquet", index=False)
    TRUTH.to_csv(tmp_path / "truth.csv", index=False)
    out = tmp_path / "report"
    code = main(["evaluate", "--raw", str(tmp_path / "raw.csv"), "--calibrated", str(tmp_path / "cal.parquet"),
                 "--truth", str(tmp_path / "truth.csv"), "--out", str(out), "--tier-column", "tier",
                 "--note", "hand-made inputs"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "lean [Meta]" in printed and "raw +10.00 pp -> calibrated +1.00 pp" in printed
    assert f"Wrote the report to {out / 'index.html'}" in printed
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "src='alignment_by_tier.png'" in page and "hand-made inputs" in page


def test_cli_builtin_truth_and_persona_level_csv(tmp_path, capsys):
    from personacal.data import election_results

    actual = election_results(2024).set_index("state")["dem_two_party_share"]
    # three real states, every persona 5 points more Democratic than the state's result -> lean +.05
    rows = []
    for k, state in enumerate(["CA", "TX", "WI"]):
        d = float(actual[state]) + 0.05
        rows += [(f"p{k}", state, "D", d, 2.0), (f"p{k}", state, "R", 1 - d, 2.0)]
    frame = pd.DataFrame(rows, columns=["persona_id", "state", "party", "probability", "w"])
    frame.to_csv(tmp_path / "answers.csv", index=False)
    code = main(["evaluate", "--raw", str(tmp_path / "answers.csv"), "--calibrated", str(tmp_path / "answers.csv"),
                 "--truth", "election-2024", "--out", str(tmp_path / "r"), "--weights", "w", "--n-boot", "20",
                 "--seed", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "raw +5.00 pp" in printed and "calibrated +5.00 pp" in printed
    assert "48 state(s) of the truth were not simulated" in printed
    assert "MEDSL" in printed


@pytest.mark.parametrize(
    "change, match",
    [
        ({"--raw": "missing.csv"}, "raw answers file '.*missing.csv' does not exist"),
        ({"--truth": "election-1999"}, "`year` of election_results must be one of"),
        ({"--raw": "bad_share.csv"}, "column 'dem_two_party_share' of raw answers file .* non-numeric value"),
        ({"--truth": "bad_ref.csv"}, "column 'is_refusal' of truth file .* must hold true/false"),
        ({"--raw": "raw.txt"}, r"must be a \.csv, \.csv\.gz or \.parquet file"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, capsys, change, match):
    RAW.to_csv(tmp_path / "raw.csv", index=False)
    RAW.to_csv(tmp_path / "raw.txt", index=False)
    CAL.to_csv(tmp_path / "cal.csv", index=False)
    TRUTH.to_csv(tmp_path / "truth.csv", index=False)
    RAW.assign(dem_two_party_share=["0.5", "lots", "0.4"]).to_csv(tmp_path / "bad_share.csv", index=False)
    _opinion_reference().assign(is_refusal="maybe").to_csv(tmp_path / "bad_ref.csv", index=False)
    args = {"--raw": "raw.csv", "--calibrated": "cal.csv", "--truth": "truth.csv"} | change
    argv = ["evaluate", "--out", str(tmp_path / "out")]
    for flag, value in args.items():
        argv += [flag, value if value.startswith("election-") else str(tmp_path / value)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("personacal: error [")
    assert len(err.strip().splitlines()) == 1
    assert re.search(match, err), err


def test_cli_opinion_reference_csv(tmp_path, capsys):
    ref = _opinion_reference().assign(is_refusal="False")
    ref.to_csv(tmp_path / "ref.csv", index=False)
    ref.drop(columns=["share"]).assign(probability=[0.5, 0.3, 0.2]).to_csv(tmp_path / "raw.csv", index=False)
    ref.drop(columns=["share"]).assign(probability=[0.2, 0.3, 0.5]).to_csv(tmp_path / "cal.csv", index=False)
    code = main(["evaluate", "--raw", str(tmp_path / "raw.csv"), "--calibrated", str(tmp_path / "cal.csv"),
                 "--truth", str(tmp_path / "ref.csv"), "--out", str(tmp_path / "r")])
    assert code == 0
    assert "raw 0.7000 -> calibrated 1.0000" in capsys.readouterr().out
    assert (tmp_path / "r" / "questions.png").exists()
