"""The HTML report as a reader's browser shows it: headless Chromium (Debian's ``chromium``).

The page is loaded with a small script appended to a copy of it; Chromium runs the
script and prints the resulting DOM (``--dump-dom``), which records every image's
``naturalWidth`` (0 = a broken image) and every table cell that reads NaN. The
figures are also checked for what a reader needs (issue 14, items 13-14): per-region
composition with the Meta personas, value labels, a broken axis when one bar dwarfs
the rest, alignment axes that span 0.75-1, no offset notation, titles that fit.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from personacal.calibrate import Margins
from personacal.evaluate import compare, composition_error, write_report
from personacal.evaluate._plot_base import ALIGNMENT_FLOOR
from personacal.evaluate._plot_composition import pooled_composition, region_composition

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => [i.getAttribute("src"), i.naturalWidth]);
  const nan = [...document.querySelectorAll("td, th")].map(c => c.textContent.trim())
    .filter(t => /^(nan|NaN|-?inf|None)$/.test(t));
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({images, nan});
  document.body.appendChild(probe);
});
</script>"""

STATES = ["AA", "BB", "CC", "DD"]
TRUTH = pd.DataFrame({"state": STATES, "dem_two_party_share": [0.60, 0.40, 0.45, 0.52]})


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "the report test needs Debian's chromium: apt-get install -y chromium (.ci/run installs it)"
    return path


def _personas(rng, n_per_state=60):
    rows = []
    for state in STATES:
        for i in range(n_per_state):
            rows.append({"persona_id": f"{state}{i}", "state": state, "tier": "Meta" if i % 2 else "Descriptive",
                         "sex": rng.choice(["F", "M"], p=[0.3, 0.7]), "age": rng.choice(["young", "old"])})
    return pd.DataFrame(rows)


def _comparison(rng):
    """Persona-level election answers of two tiers, calibrated weights, bootstrap intervals, composition."""
    personas = _personas(rng)
    p_dem = rng.uniform(0.3, 0.8, len(personas))
    answers = pd.concat([personas.assign(party="D", probability=p_dem),
                         personas.assign(party="R", probability=1 - p_dem)], ignore_index=True)
    answers = answers.assign(question_id="election-2024", option=answers["party"])
    weights = np.where(answers["sex"] == "F", 0.5 / 0.3, 0.5 / 0.7) * (1 + 1e-4 * (answers.index % 3))
    margins = Margins({"sex": {"F": 50, "M": 50}, "age": {"young": 50, "old": 50}})
    raw_comp = composition_error(personas, margins)
    cal_comp = composition_error(personas, margins, weights=np.where(personas["sex"] == "F", 0.5 / 0.3, 0.5 / 0.7))
    return compare(answers, answers.assign(weight=weights), TRUTH, weights="weight", n_boot=50, random_state=1,
                   composition={"raw": raw_comp, "calibrated": cal_comp}, progress=False)


def _region_table():
    """Three pools in four regions; race4:race_eth of the independent draws dwarfs every other error."""
    rows = []
    for k, region in enumerate(STATES):
        for margin, raw, raked, meta in (("sex", 0.05, 0.0, 0.003), ("age", 0.09, 0.0, 0.008),
                                         ("age:sex", 0.13, 0.09, 0.04), ("race4:race_eth", 0.55, 0.58, 0.015)):
            for pool, value in (("paper-style, raw", raw), ("paper-style, raked", raked),
                                ("personacal Meta (ipf joint)", meta)):
                rows.append({"state": region, "margin": margin, "pool": pool, "tvd": value * (1 + 0.1 * k)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    rng = np.random.default_rng(14)
    folder = tmp_path_factory.mktemp("report")
    page = write_report(_comparison(rng), folder, title="A report of 4 regions", region_composition=_region_table())
    return page


def test_every_image_loads_and_no_cell_reads_nan(report, tmp_path):
    probe_page = report.with_name("probe.html")
    probe_page.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
         "--dump-dom", probe_page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match, f"Chromium printed no probe (exit {done.returncode}): {done.stderr[-2000:]}"
    probe = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    sources = [src for src, _ in probe["images"]]
    assert sources[0] == "composition_regions.png"  # the per-region view comes first
    assert {"composition.png", "weights.png", "states.png", "alignment.png"} <= set(sources)
    assert all(width > 0 for _, width in probe["images"]), probe["images"]
    assert probe["nan"] == []


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def test_per_region_composition_shows_meta_labels_values_and_breaks_the_axis():
    fig = region_composition(_region_table())
    texts = _texts(fig)
    assert {"paper-style, raw", "paper-style, raked", "personacal Meta (ipf joint)"} <= set(texts)
    assert "5.8" in texts and "0.3" in texts  # value labels: mean raw sex error 5 pp x 1.15, Meta 0.3 pp x 1.15
    assert len(fig.axes) == 2 and any("axis broken" in t for t in texts)
    title = fig._suptitle.get_text()
    assert "per region" in title and "mean over 4 regions" in title


def test_the_pooled_view_says_it_is_pooled(report):
    rng = np.random.default_rng(14)
    fig = pooled_composition(_comparison(rng), pooled=True)
    assert "all regions pooled" in fig._suptitle.get_text()
    html = report.read_text(encoding="utf-8")
    assert "All regions pooled into one population" in html


def test_alignment_axes_span_a_reference_and_no_offset_notation():
    comparison = _comparison(np.random.default_rng(14))
    for name in ("alignment", "alignment_by_tier"):
        ax = comparison.plot(name).axes[0]
        low, high = ax.get_ylim()
        assert low <= ALIGNMENT_FLOOR and high >= 1.0, (name, low, high)
    weights = comparison.plot("weights")
    FigureCanvasAgg(weights).draw()
    for ax in weights.axes:
        assert ax.xaxis.get_offset_text().get_text() == ""  # design effects of 1.0000x show as they are
        assert len([t for t in ax.get_xticklabels() if t.get_text()]) >= 3  # more than one tick on every panel
    low, high = weights.axes[1].get_xlim()
    assert low <= 1.0 and high - low >= 0.2


def test_titles_fit_inside_their_figures():
    comparison = _comparison(np.random.default_rng(14))
    for name in ("states", "alignment", "lean", "weights", "composition"):
        fig = comparison.plot(name)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        width = fig.bbox.width
        for text in [fig._suptitle, *(ax.title for ax in fig.axes)]:
            if text is None or not text.get_text():
                continue
            box = text.get_window_extent(renderer)
            assert box.x0 >= 0 and box.x1 <= width, (name, text.get_text(), box.x0, box.x1, width)
