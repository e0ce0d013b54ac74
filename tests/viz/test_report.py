"""The HTML report: one self-contained file, rendered by headless Chromium."""

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import repalign
from repalign.viz import alignment_curve, rdm_plot
from repalign.viz._common import as_frame

from ._rows import result_rows

pytest.importorskip("matplotlib")


def _results():
    return result_rows({
        "a": ["net/conv1", "net/conv1", "net/fc"],
        "b": ["net/fc", "it", "it"],
        "measure": ["cka", "rsa", "rsa"],
        "params": [{}, {"compare": "spearman"}, {"compare": "spearman"}],
        "value": [0.8125, 0.3141, 0.2718],
        "ci_low": [np.nan, 0.2011, 0.1502],
        "ci_high": [np.nan, 0.4023, 0.3904],
        "p_value": [None, 0.0049, 0.0312],
        "n_stimuli": [92, 92, 92],
    })


def _check_self_contained(text):
    assert text.lower().count("<html") == 1
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", text, re.I)
    assert "<script" not in text.lower() and "<link" not in text.lower()
    images = re.findall(r'<img[^>]*\ssrc="([^"]*)"', text)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    return images


def test_report_is_one_self_contained_file_with_the_values(tmp_path):
    out = repalign.report(_results(), tmp_path / "report.html", title="Digits & IT")
    assert list(tmp_path.iterdir()) == [out]
    text = out.read_text(encoding="utf-8")
    images = _check_self_contained(text)
    # default: one matrix per (measure, params) with 2+ names, and the curve of
    # net's two layers against the target "it" (no model map: a pair is missing)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    spearman = "rsa {&quot;compare&quot;:&quot;spearman&quot;}"
    assert captions == ["cka", spearman, f"net vs it, {spearman}"]
    assert len(images) == 3
    for value in ("0.8125", "0.3141", "0.2011", "0.4023", "0.0049", "0.0312", "92"):
        assert f">{value}<" in text
    assert "<title>Digits &amp; IT</title>" in text
    assert "compare=&#x27;spearman&#x27;" in text and ">defaults<" in text  # parameters
    assert re.search(r"<td>numpy</td><td>" + re.escape(np.__version__), text)
    assert f"<td>repalign</td><td>{repalign.__version__}</td>" in text
    assert re.search(r"Created \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text)


def test_default_figures_show_what_a_grid_with_a_target_holds():
    from repalign.viz.report import _default_figures

    rng = np.random.default_rng(0)
    names = [f"{m}/{layer}" for m in ("m0", "m1", "m2") for layer in ("c1", "c2", "fc")]
    names.append("it")
    rows = [{"a": a, "b": b, "measure": measure, "params": "{}",
             "value": float(rng.uniform()), "p_value": float(rng.uniform())}
            for measure in ("cka", "procrustes") for i, a in enumerate(names)
            for b in names[i:]]
    rows += [{"a": name, "b": "it", "measure": "ridge", "params": {"cv": 5},
              "value": float(rng.uniform()), "p_value": None}
             for name in names[:3]]
    figures = _default_figures(as_frame(result_rows(rows)))
    assert list(figures) == [
        "cka", "procrustes", 'ridge {"cv":5}',  # representation matrices
        "model map, cka", "model map, procrustes",  # every pair present
        "cka: m0 x m1", "cka: m0 x m2",  # heatmaps from the first measure
        "m0 vs it, cka", "m1 vs it, cka", "m2 vs it, cka",  # curves: first measure per model
    ]
    curve = figures["m1 vs it, cka"].axes[0]
    expected = [next(r["value"] for r in rows if r["measure"] == "cka" and r["b"] == "it"
                     and r["a"] == f"m1/{layer}") for layer in ("c1", "c2", "fc")]
    np.testing.assert_array_equal(curve.lines[0].get_ydata(), expected)


def test_default_curves_and_heatmaps_are_capped():
    from repalign.viz.report import MAX_DEFAULT_PANELS, _default_figures

    names = [f"m{k}/l{j}" for k in range(9) for j in range(2)] + ["it", "v4"]
    rows = [{"a": a, "b": b, "measure": "rsa", "params": "{}", "value": 0.5}
            for i, a in enumerate(names) for b in names[i + 1:]]
    captions = list(_default_figures(as_frame(result_rows(rows))))
    assert sum(" x " in c for c in captions) == MAX_DEFAULT_PANELS
    assert sum(" vs " in c for c in captions) == MAX_DEFAULT_PANELS


def test_report_takes_given_figures_and_a_store(tmp_path):
    class Store:
        def to_dataframe(self):
            return _results()

    figures = [rdm_plot(np.eye(4)), alignment_curve(["a", "b"], [0.1, 0.2])]
    text = repalign.report(Store(), tmp_path / "r.html", figures=figures).read_text()
    assert len(_check_self_contained(text)) == 2
    assert "<figcaption>Figure 2</figcaption>" in text
    text = repalign.report(_results(), tmp_path / "r.html", figures={}).read_text()
    assert "No figures." in text


def test_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        repalign.report(_results(), tmp_path / "missing" / "r.html")
    with pytest.raises(TypeError, match=r"figures\['x'\] must be a matplotlib Figure; got str"):
        repalign.report(_results(), tmp_path / "r.html", figures={"x": "not a figure"})


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None,
                    reason="Debian's chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    from matplotlib.image import imread

    page = repalign.report(_results(), tmp_path / "report.html")
    screenshot = tmp_path / "screenshot.png"
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}",
         "--window-size=1200,900", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=60)
    assert screenshot.is_file()
    pixels = imread(screenshot)
    assert pixels.shape[:2] == (900, 1200)
    assert pixels[..., :3].std() > 0.05  # not blank: text, table and figures drawn


def test_report_reads_a_results_db_path_read_only(tmp_path):
    results = pytest.importorskip("repalign.store.results")
    db = tmp_path / "results.db"
    with results.ResultStore(db) as store:
        for i, row in enumerate(_results().to_dict("records")):
            missing_as_none = {k: None if pd.isna(v) is True else v for k, v in row.items()}
            store.put({**missing_as_none, "hash_a": f"ha{i}", "hash_b": f"hb{i}",
                       "seconds": 0.1})
    before = db.stat().st_mtime_ns
    text = repalign.report(str(db), tmp_path / "report.html").read_text()
    assert ">0.8125<" in text and ">0.0312<" in text
    assert db.stat().st_mtime_ns == before
