"""The HTML report: one self-contained file, rendered by headless Chromium."""

import base64
import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import repalign
from repalign.viz import alignment_curve, rdm_plot
from repalign.viz._common import as_frame

from ._browser import chromium, inspect_page
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


def _download(text):
    """The rows of the page's CSV download (its data: URI decoded), and the file's name."""
    (name, href), = re.findall(r'<a[^>]*\sdownload="([^"]+)"[^>]*\shref="([^"]+)"', text)
    head, _, data = href.partition(",")
    assert head == "data:text/csv;charset=utf-8;base64"
    return pd.read_csv(io.StringIO(base64.b64decode(data).decode("utf-8"))), name


def _assert_rows_equal(read, rows):
    """The CSV's rows are the result rows: same columns, same values, params as stored."""
    expected = as_frame(rows).reset_index(drop=True)
    assert list(read.columns) == list(expected.columns)
    assert len(read) == len(expected)
    for column in expected.columns:
        want = expected[column]
        numeric = pd.to_numeric(want, errors="coerce")
        if column != "params" and (numeric.notna() | want.isna()).all() \
                and want.map(lambda v: not isinstance(v, (bool, np.bool_))).all():
            np.testing.assert_allclose(read[column].astype(float), numeric.astype(float),
                                       rtol=1e-15, err_msg=column)
        else:
            assert [str(v) for v in read[column]] == [str(v) for v in want], column


def test_report_is_one_self_contained_file_with_the_values(tmp_path):
    out = repalign.report(_results(), tmp_path / "report.html", title="Digits & IT")
    assert list(tmp_path.iterdir()) == [out]
    text = out.read_text(encoding="utf-8")
    images = _check_self_contained(text)
    # default: one matrix per (measure, params) with 2+ names, and the curve of
    # net's two layers against the target "it" (no model map: a pair is missing)
    titles = re.findall(r"<figcaption><strong>(.*?)</strong>", text)
    assert titles == ["Figure 1. cka: every pair.", "Figure 2. rsa: every pair.",
                      "Figure 3. net vs it, rsa."]
    assert len(images) == 3
    read, name = _download(text)
    assert name == "results.csv"
    _assert_rows_equal(read, _results())
    assert "<title>Digits &amp; IT</title>" in text
    assert "<td>RDMs compared by Spearman correlation</td>" in text  # parameters in words
    assert ">default parameters<" in text
    assert re.search(r"<td>numpy</td><td>" + re.escape(np.__version__), text)
    assert f"<td>repalign</td><td>{repalign.__version__}</td>" in text
    assert re.search(r"Created \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text)


def test_captions_are_sentences():
    text = _report_text(_results())
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    assert all("{" not in c and "&quot;" not in c for c in captions)  # no JSON
    assert ("</strong> Every pair of 3 representations: rsa (RDMs compared by Spearman "
            "correlation), on 92 stimuli. rsa is a similarity from -1 to 1 (higher = more "
            "alike).") in captions[1]
    assert "Colour: the rsa value (viridis colour map); brighter = more alike." in captions[1]
    assert "2 of 2 values have an interval (median width 0.221), listed in the results CSV" \
        in captions[1]
    assert "drawn as error bars" in captions[2] and "q &lt; 0.05" in captions[2]


def _report_text(rows, **kwargs):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return repalign.report(rows, Path(folder) / "r.html", **kwargs).read_text()


def test_table_of_contents_links_resolve_to_sections_and_figures():
    text = _report_text(_results())
    contents = re.search(r'<nav id="contents">(.*?)</nav>', text).group(1)
    targets = re.findall(r'href="#([^"]+)"', contents)
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids))  # unique anchors
    assert set(targets) <= set(ids)
    sections = re.findall(r'<section id="([^"]+)"><h2>([^<]+)</h2>', text)
    assert sections == [("summary", "Summary"), ("guide", "What each panel shows"),
                        ("figures", "Figures"), ("data", "Data"),
                        ("parameters", "Parameters"), ("versions", "Versions")]
    assert targets == ["summary", "guide", "figures", "figure-1", "figure-2", "figure-3",
                       "data", "parameters", "versions"]
    for number in (1, 2, 3):
        assert f'<figure id="figure-{number}"><img' in text
    # every in-page link in the document resolves, the guide's figure links included
    assert set(re.findall(r'href="#([^"]+)"', text)) <= set(ids)


def test_guide_says_what_each_panel_shows():
    text = _report_text(_results())
    guide = re.search(r'<section id="guide">(.*?)</section>', text).group(1)
    assert 'Representation matrix (figure <a href="#figure-1">1</a>, ' \
           '<a href="#figure-2">2</a>)' in guide
    assert 'Alignment curve (figure <a href="#figure-3">3</a>)' in guide
    assert "Model map" not in guide  # no map in this report
    assert "reversed magma" in guide and "brighter means more alike" in guide
    given = _report_text(_results(), figures={"mine": alignment_curve(["a", "b"], [1, 2])})
    assert "Alignment curve (figure" in given
    other = _report_text(_results(), figures=[__import__("repalign.viz._common", fromlist=[
        "new_figure"]).new_figure()])
    assert "Other figures (figure" in other


def test_summary_table_per_measure_and_stimulus_set():
    rows = result_rows({
        "a": ["x", "x", "y", "x", "x", "x"], "b": ["x", "y", "z", "z", "y", "z"],
        "measure": ["cka"] * 5 + ["procrustes"], "params": [{}] * 6,
        "value": [1.0, 0.2, 0.6, 0.4, 0.9, 0.3],
        "n_stimuli": [50, 50, 50, 50, 92, 50], "p_value": [None, 0.01, None, None, None, None],
    })
    text = _report_text(rows, figures={})
    summary = re.search(r'<section id="summary">(.*?)</section>', text).group(1)
    assert "6 results of 2 measures between 3 representations, on 2 stimulus sets (50, 92 " \
        "stimuli)." in summary
    table = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)
             for row in re.findall(r"<tr>(.*?)</tr>", summary)]
    assert table == [
        ["measure", "parameters", "kind", "stimuli", "pairs", "min", "median", "max",
         "with interval", "with p-value"],
        ["cka", "default parameters", "similarity", "50", "3", "0.2", "0.4", "0.6", "0", "1"],
        ["cka", "default parameters", "similarity", "92", "1", "0.9", "0.9", "0.9", "0", "0"],
        ["procrustes", "default parameters", "distance", "50", "1", "0.3", "0.3", "0.3", "0",
         "0"],
    ]  # the self-comparison x-x is left out


def test_the_page_does_not_grow_a_row_per_result():
    names = [f"m/l{i}" for i in range(40)]
    rows = result_rows([{"a": a, "b": b, "measure": "cka", "params": {}, "value": 0.5,
                         "n_stimuli": 30} for i, a in enumerate(names) for b in names[i + 1:]])
    text = _report_text(rows, figures={})
    assert len(rows) == 780
    assert text.count("<tr>") < 20  # summary, parameters, versions; the rows are in the CSV
    assert "Download all 780 result rows as CSV" in text
    _assert_rows_equal(_download(text)[0], rows)


def test_default_figures_split_stimulus_sets():
    from repalign.viz.report import _default_figures

    names = ["a/1", "a/2", "b/1"]
    rows = result_rows([{"a": x, "b": y, "measure": "cka", "params": {}, "n_stimuli": n,
                         "value": 0.1 * (i + j) + (0.5 if n == 92 else 0.0)}
                        for n in (50, 92) for i, x in enumerate(names)
                        for j, y in enumerate(names) if i < j])
    figures = _default_figures(as_frame(rows))
    assert list(figures)[:4] == ["cka: every pair, 50 stimuli", "cka: every pair, 92 stimuli",
                                 "cka: model map, 50 stimuli", "cka: model map, 92 stimuli"]
    for n, offset in ((50, 0.0), (92, 0.5)):
        figure = figures[f"cka: every pair, {n} stimuli"]
        shown = np.asarray(figure.axes[0].images[0].get_array())
        np.testing.assert_allclose(shown[0, 1:], [0.1 + offset, 0.2 + offset])
        caption = figure.repalign_caption
        assert f"on {n} stimuli." in caption
        assert ("The cka rows hold 2 stimulus sets (50 stimuli, 92 stimuli); representations "
                "compared on different stimuli are never put in one figure, so this one shows "
                f"only those compared on {n} stimuli.") in caption
    # one stimulus set: no note, no stimuli in the title
    single = _default_figures(as_frame(rows[rows["n_stimuli"] == 50]))
    assert "cka: every pair" in single
    assert "stimulus sets" not in single["cka: every pair"].repalign_caption


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
        "cka: every pair", "procrustes: every pair", "ridge: every pair",  # matrices
        "cka: model map", "procrustes: model map",  # every pair present
        "cka: m0 x m1", "cka: m0 x m2",  # heatmaps from the first measure
        "m0 vs it, cka", "m1 vs it, cka", "m2 vs it, cka",  # curves: first measure per model
    ]
    curve = figures["m1 vs it, cka"].axes[0]
    expected = [next(r["value"] for r in rows if r["measure"] == "cka" and r["b"] == "it"
                     and r["a"] == f"m1/{layer}") for layer in ("c1", "c2", "fc")]
    np.testing.assert_array_equal(curve.lines[0].get_ydata(), expected)
    # a distance's matrix is drawn in the distances' colour map
    assert figures["procrustes: every pair"].axes[0].images[0].get_cmap().name == "magma_r"
    assert figures["cka: every pair"].axes[0].images[0].get_cmap().name == "viridis"


def test_default_titles_name_the_setting_when_a_measure_has_several():
    from repalign.viz.report import _default_figures

    rows = result_rows([{"a": "x", "b": "y", "measure": "rsa", "params": {"compare": c},
                         "value": 0.5} for c in ("spearman", "pearson")])
    assert list(_default_figures(as_frame(rows))) == [
        "rsa (RDMs compared by Spearman correlation): every pair",
        "rsa (RDMs compared by Pearson correlation): every pair"]


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
    assert "<strong>Figure 2. Figure 2.</strong>" in text
    assert "Representational dissimilarity matrix for 4 stimuli" in text  # its own caption
    text = repalign.report(_results(), tmp_path / "r.html", figures={}).read_text()
    assert "No figures." in text


def test_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        repalign.report(_results(), tmp_path / "missing" / "r.html")
    with pytest.raises(TypeError, match=r"figures\['x'\] must be a matplotlib Figure; got str"):
        repalign.report(_results(), tmp_path / "r.html", figures={"x": "not a figure"})


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium)")


@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path):
    from matplotlib.image import imread

    page = repalign.report(_results(), tmp_path / "report.html")
    screenshot = tmp_path / "screenshot.png"
    subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}",
         "--window-size=1200,900", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=60)
    assert screenshot.is_file()
    pixels = imread(screenshot)
    assert pixels.shape[:2] == (900, 1200)
    assert pixels[..., :3].std() > 0.05  # not blank: text, table and figures drawn


def _grid_with_a_target():
    rng = np.random.default_rng(1)
    names = [f"{m}/{layer}" for m in ("m0", "m1") for layer in ("c1", "c2", "fc")] + ["it"]
    rows = [{"a": a, "b": b, "measure": measure, "params": "{}", "n_stimuli": 60,
             "value": float(rng.uniform()), "p_value": float(rng.uniform()),
             "ci_low": 0.0, "ci_high": 1.0}
            for measure in ("cka", "procrustes") for i, a in enumerate(names)
            for b in names[i + 1:]]
    rows += [{"a": a, "b": b, "measure": "cka", "params": "{}", "n_stimuli": 92,
              "value": 0.5, "p_value": None, "ci_low": None, "ci_high": None}
             for a, b in (("m0/c1", "m1/c1"), ("m0/c1", "m0/fc"), ("m0/fc", "m1/c1"))]
    return result_rows(rows)


@needs_chromium
def test_report_loads_in_headless_chromium_without_errors_and_every_image_renders(tmp_path):
    rows = _grid_with_a_target()
    page = repalign.report(rows, tmp_path / "report.html", title="browser check")
    text = page.read_text()
    shown = inspect_page(page, tmp_path)
    assert shown["errors"] == []  # no console errors, exceptions or failed loads
    assert shown["title"] == "browser check"
    n_images = text.count("<img ")
    assert n_images >= 8 and len(shown["images"]) == n_images
    for image in shown["images"]:  # decoded, with pixels, laid out on the page
        assert image["complete"] and image["decoded"], image["alt"]
        assert image["naturalWidth"] > 0 and image["naturalHeight"] > 0, image["alt"]
        assert image["width"] > 0, image["alt"]
    assert shown["sections"] == ["summary", "guide", "figures", "data", "parameters",
                                 "versions"]
    assert shown["links"] and all(link["target"] for link in shown["links"])
    assert {"section", "figure"} == {link["target"] for link in shown["links"]}
    (download,) = shown["downloads"]  # what the browser saves: the rows
    assert download["name"] == "results.csv"
    _assert_rows_equal(pd.read_csv(io.StringIO(download["text"])), rows)


@needs_chromium
def test_report_height_does_not_grow_with_the_rows(tmp_path):
    names = [f"m/l{i}" for i in range(30)]
    rows = result_rows([{"a": a, "b": b, "measure": "cka", "params": {}, "value": 0.5,
                         "n_stimuli": 30} for i, a in enumerate(names) for b in names[i + 1:]])
    heights = []
    for k, frame in enumerate((rows.iloc[:3], rows)):
        (tmp_path / str(k)).mkdir()
        page = repalign.report(frame, tmp_path / str(k) / "r.html", figures={})
        heights.append(inspect_page(page, tmp_path / str(k))["height"])
    assert heights[1] - heights[0] < 100  # 435 rows, not a row of pixels each


@needs_chromium
def test_the_browser_check_catches_broken_pages(tmp_path):
    # the check itself: a page with a broken image, a missing file, a dead link and a
    # script error must fail it
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>broken</title></head><body>'
                    '<img alt="bad" src="data:image/png;base64,AAAA">'
                    '<img alt="missing" src="missing.png"><a href="#nowhere">x</a>'
                    '<script>console.error("boom"); undefined_function();</script>'
                    "</body></html>")
    shown = inspect_page(page, tmp_path)
    assert [image["naturalWidth"] for image in shown["images"]] == [0, 0]
    assert [link["target"] for link in shown["links"]] == [None]
    assert any("ERR_FILE_NOT_FOUND" in e and "missing.png" in e for e in shown["errors"])
    assert "console.error: boom" in shown["errors"]
    assert any("undefined_function is not defined" in e for e in shown["errors"])


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
    read, _ = _download(text)
    assert sorted(read["value"]) == [0.2718, 0.3141, 0.8125]
    assert read.loc[read["value"] == 0.2718, "p_value"].item() == 0.0312
    assert db.stat().st_mtime_ns == before
