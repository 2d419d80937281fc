"""calibrate_tier and the shipped psychographic targets.

Expected target shares are respondent counts read off the raw files (GSS 2018 polviews and
partyid, ANES 2012 pid7, Pew ATP W92 POLPARTY group counts), not computed by the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.data import census_margins
from personacal.data import psychographic_margins, psychographic_targets
from personacal.errors import DataError, EmptyCategoryError, InputError, MappingError
from personacal.evaluate import TierCalibrationResult, calibrate_tier

IDEOLOGY = ["very liberal", "liberal", "moderate", "conservative", "very conservative"]
PARTY = ["Democrat", "Republican", "Independent", "Other"]
#: GSS 2018 polviews 1 / 2+3 / 4 / 5+6 / 7 (counts of 2,247 valid answers).
GSS_IDEOLOGY = np.array([122, 278 + 256, 855, 283 + 354, 99]) / 2247
#: GSS 2018 partyid 0-1 / 5-6 / 2-4 / 7 (2,315 valid answers).
GSS_PARTY = np.array([379 + 352, 272 + 255, 307 + 414 + 259, 77]) / 2315
AGES = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]


def _tier(seed=7, n=500, states=("CA", "TX"), ideology_p=(0.25, 0.40, 0.25, 0.08, 0.02),
          party_p=(0.55, 0.15, 0.27, 0.03)):
    """A tier skewed left on purpose (as LLM-written tiers are), with uniform sex and age."""
    rng = np.random.default_rng(seed)
    frames = []
    for state in states:
        frames.append(pd.DataFrame({
            "persona_id": [f"{state}-{i:04d}" for i in range(n)],
            "state": state,
            "sex": rng.choice(["Male", "Female"], n),
            "age": rng.choice(AGES, n),
            "ideology": rng.choice(IDEOLOGY, n, p=list(ideology_p)),
            "party_id": rng.choice(PARTY, n, p=list(party_p)),
        }))
    return pd.concat(frames, ignore_index=True)


def _gss():
    return pd.concat([psychographic_targets("ideology", source="GSS"), psychographic_targets("party_id", source="GSS")])


@pytest.fixture(scope="module")
def census():
    return {s: census_margins(s, variables=["sex", "age"]) for s in ("CA", "TX")}


def test_skew_removed_toward_gss_with_census(census):
    tier = _tier()
    res = calibrate_tier(tier, _gss(), census=census, by="state")
    assert isinstance(res, TierCalibrationResult) and res.converged
    skew = res.skew.set_index(["variable", "category"])
    np.testing.assert_allclose(skew.loc["ideology"].loc[IDEOLOGY, "target_share"], GSS_IDEOLOGY)
    np.testing.assert_allclose(skew.loc["party_id"].loc[PARTY, "target_share"], GSS_PARTY)
    np.testing.assert_allclose(res.skew["skew_after"], 0.0, atol=1e-8)
    # Skew before, from the tier's own counts.
    liberal = tier["ideology"].isin(["very liberal", "liberal"]).mean()
    conservative = tier["ideology"].isin(["conservative", "very conservative"]).mean()
    lean = res.lean.set_index("variable")
    np.testing.assert_allclose(lean.loc["ideology", "left_before"], liberal)
    np.testing.assert_allclose(lean.loc["ideology", "net_lean_before"],
                               (liberal - conservative) - (GSS_IDEOLOGY[:2].sum() - GSS_IDEOLOGY[3:].sum()))
    assert lean.loc["ideology", "net_lean_before"] > 0.5
    np.testing.assert_allclose(lean["net_lean_after"], 0.0, atol=1e-8)
    # The census margins hold at the same time, state by state.
    w = res.weights.to_numpy()
    for state, margins in census.items():
        mask = (tier["state"] == state).to_numpy()
        by_sex = pd.Series(w[mask]).groupby(tier.loc[mask, "sex"].to_numpy()).sum()
        np.testing.assert_allclose(by_sex.reindex(margins["sex"].index), margins["sex"], rtol=1e-7)
    # What the weights cost: the psychographic correction, not the census one, drives the design effect.
    cost = res.cost.set_index("region")
    assert cost.loc["(all)", "n_personas"] == len(tier)
    assert 1 < cost.loc["(all)", "design_effect_census"] < 1.2 < cost.loc["(all)", "design_effect"]
    assert res.ess < cost.loc["(all)", "ess_census"] < len(tier)
    text = res.summary().as_text()
    assert "Kish effective sample size" in text and "What the weights cost" in text and "GSS 2018" in text


def test_regional_anes_party_targets_without_census():
    rng = np.random.default_rng(3)
    n = 400
    tier = pd.DataFrame({"persona_id": np.arange(n), "region": rng.choice(["Northeast", "Midwest", "South", "West"], n),
                         "party_id": rng.choice(["Democrat", "Republican", "Independent"], n, p=[0.6, 0.1, 0.3])})
    targets = psychographic_targets("party_id", geography="region", source="ANES")
    res = calibrate_tier(tier, targets, by="region")
    skew = res.skew.set_index(["region", "category"])
    # ANES 2012, South: pid7 1-2 = 935, 6-7 = 529 of 2,273; Northeast: 408 / 212 of 960.
    np.testing.assert_allclose(skew.loc[("South", "Democrat"), "weighted_share"], 935 / 2273)
    np.testing.assert_allclose(skew.loc[("Northeast", "Republican"), "weighted_share"], 212 / 960)
    # Without census margins each region keeps its persona count as its total.
    totals = res.weights.groupby(tier["region"].to_numpy()).sum()
    np.testing.assert_allclose(totals.sort_index(), tier["region"].value_counts().sort_index())
    assert set(res.lean["region"]) == {"Northeast", "Midwest", "South", "West"}


def test_no_personas_of_a_kind_is_a_generator_finding(census):
    tier = _tier(ideology_p=(0.3, 0.4, 0.25, 0.05, 0.0))
    assert not (tier["ideology"] == "very conservative").any()
    with pytest.raises(EmptyCategoryError, match=r"finding about the generator: ideology = 'very conservative': 0 "
                                                 r"persona\(s\) \(target share 4\.4%\)") as info:
        calibrate_tier(tier, _gss(), census=census, by="state")
    assert info.value.findings[["variable", "category", "personas"]].values.tolist() == [
        ["ideology", "very conservative", 0]]
    res = calibrate_tier(tier, _gss(), census=census, by="state", empty="drop")
    assert res.findings[["variable", "category"]].values.tolist() == [["ideology", "very conservative"]]
    skew = res.skew.set_index(["variable", "category"])
    assert skew.loc[("ideology", "very conservative"), "status"] == "dropped: 0 persona(s)"
    kept = GSS_IDEOLOGY[:4] / GSS_IDEOLOGY[:4].sum()
    np.testing.assert_allclose(skew.loc["ideology"].loc[IDEOLOGY[:4], "weighted_share"], kept)
    np.testing.assert_allclose(skew.loc[("ideology", "very conservative"), "skew_after"], -GSS_IDEOLOGY[4])
    assert "GENERATOR FINDING" in res.summary().as_text()


def test_thin_categories_with_min_personas(census):
    tier = _tier(ideology_p=(0.3, 0.4, 0.25, 0.045, 0.005))
    count = int((tier["ideology"] == "very conservative").sum())
    assert 0 < count < 20
    with pytest.raises(EmptyCategoryError, match=rf"'very conservative': {count} persona\(s\)"):
        calibrate_tier(tier, _gss(), census=census, by="state", min_personas=20)
    res = calibrate_tier(tier, _gss(), census=census, by="state")
    # Each very conservative persona must stand for many: the multiplier shows it.
    assert res.skew.set_index("category").loc["very conservative", "weight_multiplier"] > 5
    # Dropping a thin category keeps its tier share; the others share the rest in GSS proportions.
    dropped = calibrate_tier(tier, _gss(), census=census, by="state", min_personas=20, empty="drop")
    skew = dropped.skew.set_index(["variable", "category"]).loc["ideology"]
    held = count / len(tier)
    np.testing.assert_allclose(skew.loc["very conservative", "weighted_share"], held)
    np.testing.assert_allclose(skew.loc[IDEOLOGY[:4], "weighted_share"],
                               GSS_IDEOLOGY[:4] / GSS_IDEOLOGY[:4].sum() * (1 - held))
    assert skew.loc["very conservative", "status"] == f"dropped: {count} persona(s)"


def test_unmapped_values_raise_and_explicit_mapping_fixes_them(census):
    tier = _tier()
    tier.loc[:2, "ideology"] = "Liberal"
    tier.loc[3:4, "ideology"] = "progressive"
    with pytest.raises(MappingError, match=r"column 'ideology' holds ideology values with no entry in the mapping: "
                                           r"'Liberal' \(3\), 'progressive' \(2\)"):
        calibrate_tier(tier, _gss(), census=census, by="state")
    res = calibrate_tier(tier, _gss(), census=census, by="state",
                         mapping={"ideology": {"Liberal": "liberal", "progressive": "liberal"}})
    assert res.mapping["ideology"]["progressive"] == "liberal"
    tier.loc[7, "party_id"] = None
    with pytest.raises(MappingError, match=r"'<missing>' \(1\)"):
        calibrate_tier(tier, _gss(), census=census, by="state",
                       mapping={"ideology": {"Liberal": "liberal", "progressive": "liberal"}})


def test_category_the_source_does_not_measure():
    tier = _tier(states=("CA",))
    anes = psychographic_targets("party_id", source="ANES")
    with pytest.raises(MappingError, match=r"party_id categories 'Other' \(\d+\) are not measured by the targets"):
        calibrate_tier(tier, anes)
    res = calibrate_tier(tier, anes, mapping={"party_id": {"Other": "Independent"}})
    np.testing.assert_allclose(res.skew.set_index("category").loc["Democrat", "weighted_share"], 2356 / 5890)


def test_tier_argument_errors(census):
    tier = _tier()
    both = pd.concat([_gss(), psychographic_targets("ideology", source="Pew ATP")])
    with pytest.raises(InputError, match=r"several sources for 'ideology'"):
        calibrate_tier(tier, both)
    with pytest.raises(InputError, match=r"target shares of 'ideology' \(calibrate_tier\) sum to 0\.9"):
        calibrate_tier(tier, {"ideology": dict(zip(IDEOLOGY, [0.1, 0.2, 0.3, 0.2, 0.1]))})
    with pytest.raises(InputError, match=r"`personas` of calibrate_tier lacks column 'religiosity'"):
        calibrate_tier(tier, {"religiosity": {"not religious": 0.5, "somewhat religious": 0.3, "very religious": 0.2}})
    with pytest.raises(InputError, match=r"`empty` of calibrate_tier must be one of"):
        calibrate_tier(tier, _gss(), empty="ignore")
    with pytest.raises(InputError, match=r"with `by`, `census` of calibrate_tier must be a mapping"):
        calibrate_tier(tier, _gss(), census=census["CA"], by="state")


# ------------------------------------------------------------------- shipped targets
def test_shipped_targets_match_raw_counts():
    pew = psychographic_targets("party_id", source="Pew ATP").set_index("category")
    # Pew ATP W92 POLPARTY groups on POL1JB_W92: 3,231 D, 2,886 R, 2,989 I, 1,027 other (88 refused left out).
    np.testing.assert_allclose(pew.loc[PARTY, "count"], [3231, 2886, 2989, 1027])
    np.testing.assert_allclose(pew.loc["Democrat", "share"], 3231 / 10133)
    anes = psychographic_targets("party_id", source="ANES").set_index("category")
    assert anes.loc["Democrat", "n"] == 5890 and anes.loc["Democrat", "count"] == 2356
    assert "Other" not in anes.index
    states = psychographic_targets("party_id", geography="state", source="ANES")  # raw shares; the default is MRP
    assert states["n"].min() >= 50 and states["years"].unique().tolist() == ["2008+2012"]
    table = pd.concat([psychographic_targets(v, geography=g) for v in ("party_id", "ideology")
                       for g in ("national",)] + [states])
    sums = table.groupby(["source", "geography", "area", "variable"])["share"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert not table["weighted"].any()
    assert set(table.loc[table["variable"] == "ideology", "category"]) == set(IDEOLOGY)


def test_psychographic_margins_and_loader_errors():
    m = psychographic_margins(psychographic_targets("ideology", source="GSS"), total=1000.0)
    np.testing.assert_allclose(m["ideology"].reindex(IDEOLOGY), GSS_IDEOLOGY * 1000)
    regional = psychographic_margins(psychographic_targets("party_id", geography="region"), total=10.0)
    assert sorted(regional) == ["Midwest", "Northeast", "South", "West"]
    with pytest.raises(InputError, match=r"several sources for the same variable"):
        psychographic_margins(psychographic_targets("party_id"), total=1.0)
    with pytest.raises(DataError, match=r"no shipped source measures religiosity"):
        psychographic_targets("religiosity")
    with pytest.raises(InputError, match=r"`geography` of psychographic_targets must be one of"):
        psychographic_targets("party_id", geography="county")
    with pytest.raises(InputError, match=r"`source` of psychographic_targets must be one of \['ANES'\]"):
        psychographic_targets("party_id", geography="region", source="GSS")
    with pytest.raises(InputError, match=r"`area` of psychographic_targets names \['ZZ'\]"):
        psychographic_targets("party_id", geography="state", area="ZZ")
