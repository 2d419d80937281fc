"""Every input mistake on the command line gives one line, ``personacal: error [...]``, and exit code 2.

One test per class of mistake (issue 14, items 6, 8, 9, 10): a file that cannot be
read, an empty one, one that is not UTF-8, one whose format is not what its name
says, a malformed one, a missing or invalid model folder, a margins file of several
regions used as one, and calibrated answers whose weight column was not named.
"""

from __future__ import annotations

import pandas as pd
import pytest

from personacal.cli import main

SAMPLE = "sex,age\nF,18-34\nM,35+\nF,35+\nM,18-34\n"
MARGINS = "margin,sex,age,value\nsex,F,,50\nsex,M,,50\nage,,18-34,40\nage,,35+,60\n"
TWO_REGIONS = ("state,margin,sex,age,value\nCA,sex,F,,50\nCA,sex,M,,50\nCA,age,,18-34,40\nCA,age,,35+,60\n"
               "WY,sex,F,,5\nWY,sex,M,,5\nWY,age,,18-34,4\nWY,age,,35+,6\n")


def _one_error_line(capsys, code: int, *phrases: str) -> str:
    """The command failed with exit 2 and printed exactly one line, holding ``phrases``, and no traceback."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("personacal: error ["), captured.err
    assert "Traceback" not in captured.err + captured.out
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path):
    sample, margins = tmp_path / "sample.csv", tmp_path / "margins.csv"
    sample.write_text(SAMPLE, encoding="utf-8")
    margins.write_text(MARGINS, encoding="utf-8")
    return sample, margins


def _rake(sample, margins, out, *extra) -> int:
    return main(["calibrate", "rake", "--sample", str(sample), "--margins", str(margins), "--out", str(out), *extra])


def test_the_good_files_work(files, tmp_path, capsys):
    sample, margins = files
    assert _rake(sample, margins, tmp_path / "w.csv") == 0
    weights = pd.read_csv(tmp_path / "w.csv")["weight"]
    assert weights[weights.index[[0, 2]]].sum() == pytest.approx(50)  # the two F rows carry the F target
    capsys.readouterr()


def test_a_file_that_cannot_be_read(files, tmp_path, capsys):
    sample, _ = files
    folder = tmp_path / "margins_dir.csv"
    folder.mkdir()
    _one_error_line(capsys, _rake(sample, folder, tmp_path / "w.csv"), "margins file", "is a folder, not a file")
    _one_error_line(capsys, _rake(sample, tmp_path / "nope.csv", tmp_path / "w.csv"), "does not exist")


def test_an_empty_file(files, tmp_path, capsys):
    _, margins = files
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _one_error_line(capsys, _rake(empty, margins, tmp_path / "w.csv"), "sample", "is empty (0 bytes)")
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n", encoding="utf-8")
    _one_error_line(capsys, _rake(blank, margins, tmp_path / "w.csv"), "has no columns")


def test_a_file_that_is_not_utf8(files, tmp_path, capsys):
    _, margins = files
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("sex,region\nF,Québec\nM,Montréal\n".encode("latin-1"))
    line = _one_error_line(capsys, _rake(latin1, margins, tmp_path / "w.csv"), "is not UTF-8 text", "save it as UTF-8")
    assert "0xe9" in line  # the é that Latin-1 wrote as one byte


def test_a_format_other_than_its_name_says(files, tmp_path, capsys):
    sample, margins = files
    csv_named_parquet = tmp_path / "sample.parquet"
    csv_named_parquet.write_text(SAMPLE, encoding="utf-8")
    _one_error_line(capsys, _rake(csv_named_parquet, margins, tmp_path / "w.csv"),
                    "is named .parquet but is not a Parquet file", "rename it")
    parquet_named_csv = tmp_path / "margins_pq.csv"
    pd.read_csv(margins, dtype=str).to_parquet(parquet_named_csv)
    _one_error_line(capsys, _rake(sample, parquet_named_csv, tmp_path / "w.csv"),
                    "is named .csv but is a Parquet file")
    truncated = tmp_path / "cut.parquet"
    truncated.write_bytes(b"PAR1" + b"\x00" * 10)
    _one_error_line(capsys, _rake(truncated, margins, tmp_path / "w.csv"), "is not a readable Parquet file")


def test_a_malformed_csv(files, tmp_path, capsys):
    _, margins = files
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('sex,age\nF,18-34\nM,"35+\n', encoding="utf-8")
    _one_error_line(capsys, _rake(ragged, margins, tmp_path / "w.csv"), "is not a well-formed CSV file")


def test_an_output_that_cannot_be_written(files, tmp_path, capsys):
    sample, margins = files
    (tmp_path / "taken.csv").mkdir()
    _one_error_line(capsys, _rake(sample, margins, tmp_path / "taken.csv"), "output", "is a folder")


@pytest.mark.parametrize("command", [
    ["simulate", "--personas", "{personas}", "--questions", "election-2024", "--out", "{tmp}/a.csv"],
    ["generate", "tier", "--tier", "objective", "--personas", "{personas}", "--out", "{tmp}/t.csv"],
])
@pytest.mark.parametrize("backend", ["vllm", "ray"])  # ray: replicas on a local cluster read the same folder
def test_a_missing_or_invalid_model_folder(files, tmp_path, capsys, command, backend):
    sample, _ = files
    args = [a.format(personas=sample, tmp=tmp_path) for a in command]
    line = _one_error_line(capsys, main([*args, "--backend", backend, "--model", "/no/such/dir"]),
                           "`model` folder '/no/such/dir' does not exist")
    assert "Repo id" not in line
    not_a_model = tmp_path / "empty_model"
    not_a_model.mkdir()
    _one_error_line(capsys, main([*args, "--backend", backend, "--model", str(not_a_model)]),
                    "has no config.json, so it is not a Hugging Face model folder")


def test_a_margins_file_of_several_regions_used_as_one(files, tmp_path, capsys):
    sample, _ = files
    regions = tmp_path / "regions.csv"
    regions.write_text(TWO_REGIONS, encoding="utf-8")
    line = _one_error_line(capsys, _rake(sample, regions, tmp_path / "w.csv"),
                           "holds several regions (column 'state': CA, WY)", "--by state")
    assert "more than once" not in line
    seed = tmp_path / "seed.csv"
    seed.write_text("sex,age,value\nF,18-34,1\nF,35+,1\nM,18-34,1\nM,35+,1\n", encoding="utf-8")
    _one_error_line(capsys, main(["calibrate", "ipf", "--seed", str(seed), "--margins", str(regions),
                                  "--out", str(tmp_path / "fit.csv")]),
                    "holds several regions", "calibrate ipf fits one region")
    # with --by the same file works
    with_by = sample.with_name("sample_by.csv")
    with_by.write_text("state,sex,age\n" + "\n".join(f"{s},{r}" for s in ("CA", "WY")
                                                      for r in SAMPLE.splitlines()[1:]) + "\n", encoding="utf-8")
    assert _rake(with_by, regions, tmp_path / "w.csv", "--by", "state") == 0
    capsys.readouterr()


def test_evaluate_needs_the_weight_column_named(tmp_path, capsys):
    # Persona-level vote answers: two personas in WY; the calibrated file carries weights 3 and 1.
    rows = [("p1", "WY", "D", 0.8), ("p1", "WY", "R", 0.2), ("p2", "WY", "D", 0.1), ("p2", "WY", "R", 0.9)]
    raw = pd.DataFrame(rows, columns=["persona_id", "state", "party", "probability"]).assign(
        question_id="election-2024", option=lambda f: f["party"])
    raw_path, cal_path = tmp_path / "raw.csv", tmp_path / "cal.csv"
    raw.to_csv(raw_path, index=False)
    raw.assign(weight=[3.0, 3.0, 1.0, 1.0]).to_csv(cal_path, index=False)
    args = ["evaluate", "--raw", str(raw_path), "--calibrated", str(cal_path), "--truth", "election-2024",
            "--out", str(tmp_path / "report")]
    _one_error_line(capsys, main(args), "has a weight-like column 'weight' but no --weights", "--weights weight",
                    "--no-weights")
    assert main([*args, "--weights", "weight"]) == 0
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    # calibrated D share: (3*0.8 + 1*0.1) / (3*1 + 1*1) = 0.625; the raw one is (0.8 + 0.1) / 2 = 0.45
    assert ">0.625<" in page and ">0.45<" in page
    assert main([*args, "--no-weights"]) == 0
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert ">0.625<" not in page
    capsys.readouterr()
