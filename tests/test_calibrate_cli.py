"""``personacal calibrate ...`` on CSV and Parquet, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import r_reference as ref

from personacal.cli import main


@pytest.fixture
def p2_files(tmp_path):
    sample, targets, _ = ref.load_problem("P2")
    sample_csv = tmp_path / "sample.csv"
    margins_csv = tmp_path / "margins.csv"
    sample.to_csv(sample_csv, index=False)
    targets.to_csv(margins_csv, index=False)
    return sample_csv, margins_csv


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rake_cli_matches_r(p2_files, tmp_path, suffix, capsys):
    sample_csv, margins_csv = p2_files
    if suffix == ".parquet":
        sample_path = tmp_path / "sample.parquet"
        pd.read_csv(sample_csv, dtype=str).assign(d=lambda f: f["d"].astype(float)).to_parquet(sample_path)
        margins_path = tmp_path / "margins.parquet"
        pd.read_csv(margins_csv, dtype={"margin": str, "age": str, "sex": str, "region": str, "educ": str}).to_parquet(margins_path)
    else:
        sample_path, margins_path = sample_csv, margins_csv
    out = tmp_path / f"weights{suffix}"
    code = main(["calibrate", "rake", "--sample", str(sample_path), "--margins", str(margins_path),
                 "--weights", "d", "--tol", "1e-13", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "converged" in printed and "Wrote 500 weighted rows" in printed
    result = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype={"id": str})
    expected = ref.load_r_weights("P2", "rake")
    np.testing.assert_allclose(result.set_index("id")["weight"].reindex(expected.index), expected, rtol=1e-8)


def test_calibrate_logit_and_poststratify_cli(p2_files, tmp_path):
    sample_csv, margins_csv = p2_files
    out = tmp_path / "w.csv"
    assert main(["calibrate", "calibrate", "--method", "logit", "--bounds", "0.5", "2", "--sample", str(sample_csv),
                 "--margins", str(margins_csv), "--weights", "d", "--tol", "1e-13", "--out", str(out)]) == 0
    expected = ref.load_r_weights("P2", "logit_bounded")
    got = pd.read_csv(out, dtype={"id": str}).set_index("id")["weight"]
    np.testing.assert_allclose(got.reindex(expected.index), expected, rtol=1e-8)

    strata = tmp_path / "strata.csv"
    ref.load_poststrat_targets("P2").to_csv(strata, index=False)
    assert main(["calibrate", "poststratify", "--sample", str(sample_csv), "--margins", str(strata),
                 "--weights", "d", "--out", str(out)]) == 0
    expected = ref.load_r_weights("P2", "poststratify")
    got = pd.read_csv(out, dtype={"id": str}).set_index("id")["weight"]
    np.testing.assert_allclose(got.reindex(expected.index), expected, rtol=1e-8)


def test_ipf_cli_matches_loglin(tmp_path):
    case = ref.load_loglin("zeros")
    seed, margins, out = tmp_path / "seed.csv", tmp_path / "margins.csv", tmp_path / "fit.parquet"
    case.seed.to_csv(seed, index=False)
    case.margins.to_csv(margins, index=False)
    assert main(["calibrate", "ipf", "--seed", str(seed), "--margins", str(margins), "--tol", "1e-13", "--out", str(out)]) == 0
    fitted = pd.read_parquet(out).set_index(list(ref.LOGLIN_VARIABLES))["fitted"]
    expected = case.fit.set_index(list(ref.LOGLIN_VARIABLES))["value"]
    np.testing.assert_allclose(fitted.reindex(expected.index), expected, rtol=1e-8)


def test_by_region_cli(tmp_path):
    sample, targets, _ = ref.load_problem("P1")
    both = pd.concat([sample.assign(state="CA"), sample.assign(state="WY", id=sample["id"] + "w")])
    regions = pd.concat([targets.assign(state="CA"), targets.assign(state="WY")])
    s, m, out = tmp_path / "s.csv", tmp_path / "m.csv", tmp_path / "w.csv"
    both.to_csv(s, index=False)
    regions.to_csv(m, index=False)
    assert main(["calibrate", "rake", "--sample", str(s), "--margins", str(m), "--weights", "d", "--by", "state",
                 "--tol", "1e-13", "--out", str(out)]) == 0
    got = pd.read_csv(out, dtype={"id": str})
    expected = ref.load_r_weights("P1", "rake")
    ca = got[got.state == "CA"].set_index("id")["weight"]
    np.testing.assert_allclose(ca.reindex(expected.index), expected, rtol=1e-8)


def test_bad_input_prints_one_line_and_exits_2(tmp_path):
    sample = tmp_path / "s.csv"
    margins = tmp_path / "m.csv"
    pd.DataFrame({"a": ["x", "y", "z"]}).to_csv(sample, index=False)
    pd.DataFrame({"margin": ["a", "a"], "a": ["x", "y"], "value": [1.0, 2.0]}).to_csv(margins, index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "personacal.cli", "calibrate", "rake", "--sample", str(sample), "--margins", str(margins),
         "--out", str(tmp_path / "o.csv")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("personacal: error [unknown-category]: column 'a' has categories absent")
    assert "Traceback" not in proc.stderr


def test_a_fit_that_does_not_converge_prints_one_line_and_exits_1(tmp_path):
    # Good input, but one iteration cannot meet two interacting margins to 1e-12: not bad input (exit 2),
    # a failed run (exit 1), and still one line, no traceback.
    sample, margins = tmp_path / "s.csv", tmp_path / "m.csv"
    pd.DataFrame({"a": ["x", "x", "y", "y", "y"], "b": ["p", "q", "p", "p", "q"]}).to_csv(sample, index=False)
    pd.DataFrame({"margin": ["a", "a", "b", "b"], "a": ["x", "y", None, None], "b": [None, None, "p", "q"],
                  "value": [30.0, 70.0, 40.0, 60.0]}).to_csv(margins, index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "personacal.cli", "calibrate", "rake", "--sample", str(sample), "--margins",
         str(margins), "--out", str(tmp_path / "o.csv"), "--max-iter", "1", "--tol", "1e-12"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("personacal: error [not-converged]: rake did not converge within 1 iterations")
    assert not (tmp_path / "o.csv").exists()


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    code = main(["calibrate", "rake", "--sample", str(tmp_path / "nope.csv"), "--margins", str(tmp_path / "m.csv"),
                 "--out", str(tmp_path / "o.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("personacal: error [bad-input]: sample ") and "does not exist" in err
