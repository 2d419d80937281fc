"""DemographicModel: coefficients and predictions against statsmodels fitted directly, and the simulate path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.miscmodels.ordinal_model import OrderedModel

from personacal.data import anes_subset, category_map, gss_subset
from personacal.errors import (
    BackendCapabilityError,
    InputError,
    MappingError,
    MismatchError,
    MissingValueError,
    UnknownCategoryError,
)
from personacal.simulate import (
    DemographicModel,
    Question,
    RespondentModel,
    RespondentSimulationResult,
    SimulationResult,
    load_question_bank,
    simulate,
)

GSS_PREDICTORS = ("sex", "age", "race3", "education3", "employment3")
# The reference formula names every reference level explicitly, so it does not lean on category order.
GSS_FORMULA = ("C(sex, Treatment('Male')) + C(age, Treatment('18-24')) + C(race3, Treatment('White'))"
               " + C(education3, Treatment('No college degree'))"
               " + C(employment3, Treatment('Employed (incl. Armed Forces)'))")


@pytest.fixture(scope="module")
def model() -> DemographicModel:
    return DemographicModel(["natspac", "gss-partyid", "anes-pid7"], random_state=7, progress=False)


@pytest.fixture(scope="module")
def personas() -> pd.DataFrame:
    """Personas as personacal's Meta sampler writes them (race4, race_eth, region = state code)."""
    return pd.DataFrame({
        "persona_id": ["CA-1", "WY-1", "TX-1", "NY-1"],
        "region": ["CA", "WY", "TX", "NY"],
        "sex": ["Female", "Male", "Male", "Female"],
        "age": ["25-34", "65+", "45-54", "18-24"],
        "race4": ["Asian", "White", "Black", "Other"],
        "race_eth": ["Asian non-Hispanic", "White non-Hispanic", "Black non-Hispanic", "Hispanic"],
        "education3": ["Graduate or professional degree", "No college degree", "Associate's or bachelor's degree",
                       "No college degree"],
        "employment3": ["Employed (incl. Armed Forces)", "Not in labor force", "Unemployed",
                        "Employed (incl. Armed Forces)"],
    })


def _gss(column: str) -> pd.DataFrame:
    frame = gss_subset()[[*GSS_PREDICTORS, column]].dropna()
    return frame.astype({c: "str" for c in frame.columns})


def _our_name(patsy_name: str) -> str:
    """C(sex, Treatment('Male'))[T.Female] -> sex[Female]."""
    variable = patsy_name.split("(", 1)[1].split(",", 1)[0]
    level = patsy_name.split("[T.", 1)[1][:-1]
    return f"{variable}[{level}]"


# -- against statsmodels called directly ----------------------------------------
def test_multinomial_coefficients_match_statsmodels_formula_fit(model):
    frame = _gss("natspac")
    frame["y"] = pd.Categorical(frame["natspac"], categories=["Too little", "About right", "Too much"]).codes
    ref = smf.mnlogit(f"y ~ {GSS_FORMULA}", frame).fit(disp=False)
    ours = model.coefficients().query("question_id == 'natspac'")
    for j, equation in enumerate(["About right vs Too little", "Too much vs Too little"]):
        got = ours[ours["equation"] == equation].set_index("term")
        expected = ref.params.iloc[:, j].rename(lambda n: "Intercept" if n == "Intercept" else _our_name(n))
        assert set(got.index) == set(expected.index)
        np.testing.assert_allclose(got.loc[expected.index, "coef"], expected, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got.loc[expected.index, "std_err"],
                                   ref.bse.iloc[:, j].set_axis(expected.index), rtol=1e-5)
    row = model.to_frame().set_index("question_id").loc["natspac"]
    assert row["n"] == ref.nobs == len(frame)
    assert row["n_dropped"] == len(gss_subset()) - len(frame)
    assert row["llf"] == pytest.approx(ref.llf, rel=1e-9)
    assert row["llnull"] == pytest.approx(ref.llnull, rel=1e-9)
    assert row["lr_stat"] == pytest.approx(ref.llr, rel=1e-8)
    assert row["lr_df"] == ref.df_model
    assert row["lr_pvalue"] == pytest.approx(ref.llr_pvalue, rel=1e-6)
    assert row["pseudo_r2"] == pytest.approx(ref.prsquared, rel=1e-8)
    assert bool(row["converged"])


def test_ordinal_coefficients_match_statsmodels_ordered_model():
    ours = DemographicModel(["natheal"], kind="ordinal", holdout=0, progress=False)
    frame = _gss("natheal")
    frame["natheal"] = pd.Categorical(frame["natheal"], categories=["Too little", "About right", "Too much"],
                                      ordered=True)
    # patsy would code the first factor in full without an intercept; build it with one and drop it
    exog = patsy.dmatrix(GSS_FORMULA, frame, return_type="dataframe").drop(columns="Intercept")
    ref = OrderedModel(frame["natheal"], exog, distr="logit").fit(method="bfgs", maxiter=2000, disp=False)
    slopes = ours.coefficients().query("equation == 'slopes'").set_index("term")["coef"]
    expected = ref.params.iloc[: len(slopes)].rename(_our_name)
    np.testing.assert_allclose(slopes.loc[expected.index], expected, rtol=1e-3, atol=1e-4)
    assert ours.to_frame()["llf"].iloc[0] == pytest.approx(ref.llf, rel=1e-7)
    assert ours.to_frame()["llnull"].iloc[0] == pytest.approx(ref.llnull, rel=1e-7)


def test_predictions_match_statsmodels_predict_and_sum_to_one(model, personas):
    frame = _gss("party_id7")
    labels = list(model.fits["gss-partyid"].question.options)
    frame["y"] = pd.Categorical(frame["party_id7"], categories=labels).codes
    ref = smf.mnlogit(f"y ~ {GSS_FORMULA}", frame).fit(disp=False)
    newdata = personas.assign(race3=personas["race4"].map({"Asian": "Other", "White": "White", "Black": "Black",
                                                           "Other": "Other"}))
    expected = np.asarray(ref.predict(newdata))
    question = model.fits["gss-partyid"].question
    got = model.predict_distributions(personas, question)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)


def test_anes_model_uses_census_region_of_the_state(model, personas):
    a = anes_subset()
    frame = a[a["year"] == 2012][["age", "race_eth4", "region", "party_id7"]].dropna().astype(str)
    frame["y"] = pd.Categorical(frame["party_id7"], categories=list(model.fits["anes-pid7"].question.options)).codes
    ref = smf.mnlogit("y ~ C(age, Treatment('18-24')) + C(race_eth4, Treatment('Hispanic'))"
                      " + C(region, Treatment('Northeast'))", frame).fit(disp=False)
    newdata = pd.DataFrame({"age": personas["age"], "race_eth4": ["Other non-Hispanic", "White non-Hispanic",
                                                                   "Black non-Hispanic", "Hispanic"],
                            "region": ["West", "West", "South", "Northeast"]})
    got = model.predict_distributions(personas, model.fits["anes-pid7"].question)
    np.testing.assert_allclose(got, np.asarray(ref.predict(newdata)), rtol=1e-6, atol=1e-9)


def test_refusal_option_gets_zero_and_order_follows_the_bank(model, personas):
    bank = {q.id: q for q in load_question_bank("subpop-gss2022")}["natspac"]
    assert model.fits["natspac"].question.options == bank.options == ("Too little", "About right", "Too much",
                                                                       "Refused")
    probs = model.predict_distributions(personas, bank)
    assert (probs[:, 3] == 0).all()
    without = model.predict_distributions(personas, bank.without_refusals())
    np.testing.assert_allclose(without, probs[:, :3])


# -- the simulate path -------------------------------------------------------------
def test_plugs_into_simulate(model, personas):
    assert isinstance(model, RespondentModel)
    result = simulate(personas, list(model.questions), backend=model, progress=False)
    assert isinstance(result, RespondentSimulationResult) and isinstance(result, SimulationResult)
    frame = result.to_frame()
    assert list(frame["persona_id"].unique()) == list(personas["persona_id"])
    assert (frame["method"] == "respondent-model").all()
    assert set(frame["region"]) == {"CA", "WY", "TX", "NY"}
    sums = frame.groupby(["persona_id", "question_id"])["probability"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    natspac = frame[frame["question_id"] == "natspac"].pivot(index="persona_id", columns="option",
                                                           values="probability")
    direct = model.predict_distributions(personas, model.fits["natspac"].question)
    np.testing.assert_allclose(natspac.loc[personas["persona_id"], list(model.fits["natspac"].question.options)],
                               direct)
    shares = result.aggregate(by="region")
    assert set(shares["question_id"]) == set(model.question_ids)
    assert "race3: Other" in result.persona_blocks["CA-1"]  # race4 Asian collapses to the GSS's Other
    assert "respondent model" in str(result.summary())
    with pytest.raises(InputError, match="not asked of an LLM"):
        result.prompt("CA-1", "natspac")
    assert repr(result).startswith("<RespondentSimulationResult") and "\n" not in repr(result)


def test_refuses_questions_it_does_not_know(model, personas):
    bank = load_question_bank("subpop-gss2022")
    with pytest.raises(BackendCapabilityError, match=r"cannot answer questions \['natenvir'.*answers only "
                                                     r"\['natspac', 'gss-partyid', 'anes-pid7'\]"):
        simulate(personas, bank[:3], backend=model, progress=False)
    other = Question(id="natspac", text="Spending on space?", options=("More", "Less"))
    with pytest.raises(MismatchError, match="was fitted on"):
        model.predict_distributions(personas, other)


# -- persona attributes ---------------------------------------------------------------
def test_finer_persona_columns_are_collapsed(model, personas):
    q = model.fits["natspac"].question
    coarse = personas.drop(columns=["race4"]).assign(race3=["Other", "White", "Black", "Other"])
    np.testing.assert_allclose(model.predict_distributions(coarse, q), model.predict_distributions(personas, q))
    by_name = personas.assign(region=["California", "Wyoming", "Texas", "New York"])
    by_region = personas.assign(region=["West", "West", "South", "Northeast"])
    q7 = model.fits["anes-pid7"].question
    np.testing.assert_allclose(model.predict_distributions(by_name, q7), model.predict_distributions(by_region, q7))


def test_persona_attribute_errors_name_the_column(model, personas):
    q = model.fits["natspac"].question
    with pytest.raises(InputError, match=r"needs persona attribute `sex`"):
        model.predict_distributions(personas.drop(columns=["sex"]), q)
    with pytest.raises(UnknownCategoryError, match=r"column 'sex' .* labels \['F'\]"):
        model.predict_distributions(personas.assign(sex=["F", "Male", "Male", "Female"]), q)
    with pytest.raises(MissingValueError, match=r"column 'age' .* 1 missing"):
        model.predict_distributions(personas.assign(age=[None, "65+", "45-54", "18-24"]), q)
    with pytest.raises(UnknownCategoryError, match="neither a Census region"):
        model.predict_distributions(personas.assign(region=["Atlantis", "WY", "TX", "NY"]),
                                    model.fits["anes-pid7"].question)


def test_finer_predictor_needs_a_finer_persona_column(personas):
    fine = DemographicModel(["natsci"], predictors={"GSS": ("sex", "education5")}, holdout=0, progress=False)
    with pytest.raises(InputError, match="spans several `education5` labels"):
        fine.predict_distributions(personas, fine.fits["natsci"].question)
    with_fine = personas.assign(education=["Graduate or professional degree", "High school graduate",
                                           "Bachelor's degree", "Less than 9th grade"])
    probs = fine.predict_distributions(with_fine, fine.fits["natsci"].question)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_category_map():
    assert category_map("race4", "race3") == {"White": "White", "Black": "Black", "Asian": "Other", "Other": "Other"}
    assert category_map("education", "education3")["Associate's degree"] == "Associate's or bachelor's degree"
    with pytest.raises(MappingError, match="'No college degree' spans several"):
        category_map("education3", "education5")
    with pytest.raises(MappingError, match="different variables"):
        category_map("race4", "education3")


# -- diagnostics and parameters ---------------------------------------------------------
def test_holdout_is_reproducible_and_scores_the_marginal_model(model):
    table = model.to_frame().set_index("question_id")
    again = DemographicModel(["natspac"], random_state=7, progress=False).to_frame().set_index("question_id")
    # the first question's split draws first from the same seed
    assert again.loc["natspac", "logloss_model"] == table.loc["natspac", "logloss_model"]
    for qid, row in table.iterrows():
        assert row["holdout_n"] == round(0.2 * row["n"])
        assert row["logloss_diff"] == pytest.approx(row["logloss_model"] - row["logloss_marginal"])
        assert row["logloss_diff_ci_low"] < row["logloss_diff"] < row["logloss_diff_ci_high"]
    # party ID: demographics beat the marginal shares out of sample (ANES 2012, 5,807 respondents)
    assert table.loc["anes-pid7", "logloss_diff_ci_high"] < 0
    text = str(model.summary())
    assert "pseudo" in text and "held-out" in text.lower()
    assert repr(model) == "<DemographicModel questions=3, kind='multinomial', converged=True>"


def test_holdout_scores_arithmetic_on_a_real_fit():
    from personacal.simulate._respondent_fit import holdout_scores

    fit = DemographicModel(["natsoc"], holdout=0, progress=False).fits["natsoc"]
    frame = gss_subset()[[*GSS_PREDICTORS, "natsoc"]].dropna().head(50)
    X = fit.design(frame)
    y = pd.Categorical(frame["natsoc"], categories=list(fit.outcome_labels)).codes
    train_counts = np.array([5, 3, 2])
    scores = holdout_scores(fit.fit, X, y, train_counts, level=0.95)
    probs = np.asarray(fit.fit.results.predict(np.column_stack([np.ones(len(X)), X])))
    loss_model = -np.log(probs[np.arange(len(y)), y])
    loss_marginal = -np.log(np.array([0.5, 0.3, 0.2])[y])
    assert scores.n == 50
    assert scores.logloss_model == pytest.approx(loss_model.mean(), rel=1e-12)
    assert scores.logloss_marginal == pytest.approx(loss_marginal.mean(), rel=1e-12)
    d = loss_model - loss_marginal
    half = stats.t.ppf(0.975, 49) * d.std(ddof=1) / np.sqrt(50)
    assert scores.diff_ci_low == pytest.approx(d.mean() - half, abs=1e-12)
    assert scores.diff_ci_high == pytest.approx(d.mean() + half, abs=1e-12)


def test_parameter_errors():
    with pytest.raises(InputError, match=r"`kind` of DemographicModel must be one of 'multinomial', 'ordinal'; "
                                         r"got 'probit'"):
        DemographicModel(["natspac"], kind="probit", progress=False)
    with pytest.raises(InputError, match=r"`holdout` of DemographicModel must be a finite number in \[0, 1\)"):
        DemographicModel(["natspac"], holdout=1.0, progress=False)
    with pytest.raises(InputError, match=r"`questions` of DemographicModel must be ids it can fit .*\['prayer'\]"):
        DemographicModel(["natspac", "prayer"], progress=False)
    with pytest.raises(InputError, match=r"`predictors` of DemographicModel for GSS must be distinct variables"):
        DemographicModel(["natspac"], predictors={"GSS": ("sex", "region")}, progress=False)


def test_question_map_lists_every_option_in_bank_order():
    table = DemographicModel.question_map()
    banks = {name: {q.id: q for q in load_question_bank(name)} for name in ("subpop-gss2022",)}
    for qid, rows in table.groupby("question_id", sort=False):
        bank = rows["bank"].iloc[0]
        if bank in banks:
            assert tuple(rows["option"]) == banks[bank][qid].options
        substantive = rows[rows["survey_label"].notna()]
        assert (substantive["option"] == substantive["survey_label"]).all()
    assert set(table["survey"]) == {"GSS", "ANES"}
    assert table["question_id"].nunique() == 21
