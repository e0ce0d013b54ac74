"""The figures: each shows exactly the data it was given, from results or arrays."""

import numpy as np
import pandas as pd
import pytest

import repalign
from repalign.viz import (
    alignment_curve,
    alignment_curve_from_results,
    classical_mds,
    layer_heatmap,
    model_map,
    model_matrix,
    rdm_plot,
)

from ._rows import result_rows

pytest.importorskip("matplotlib")


def _grid_rows(models=("m0", "m1"), layers=("conv1", "conv2", "fc"), seed=0):
    """One row per unordered pair of "model/layer" names, as a symmetric grid stores them."""
    names = [f"{m}/{layer}" for m in models for layer in layers]
    rng = np.random.default_rng(seed)
    rows = [{"a": a, "b": b, "measure": "cka", "params": {}, "value": float(rng.uniform())}
            for i, a in enumerate(names) for b in names[i:]]
    return result_rows(rows), names


def _value(frame, a, b):
    hit = frame[((frame["a"] == a) & (frame["b"] == b)) | ((frame["a"] == b) & (frame["b"] == a))]
    return float(hit["value"].iloc[0])


def test_layer_heatmap_shows_each_layer_pair():
    frame, _ = _grid_rows()
    figure = layer_heatmap(frame, "m0", "m1", "cka")
    ax = figure.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    expected = [[_value(frame, f"m0/{r}", f"m1/{c}") for c in ("conv1", "conv2", "fc")]
                for r in ("conv1", "conv2", "fc")]
    np.testing.assert_array_equal(shown, expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "fc"]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("m0", "m1")
    assert figure.axes[1].get_ylabel() == "cka (similarity, higher = more alike)"  # colour bar


def test_model_matrix_is_symmetric_with_missing_cells_nan():
    frame, names = _grid_rows(layers=("l",), models=("a", "b", "c"))
    frame = frame[~((frame["a"] == "a/l") & (frame["b"] == "c/l"))]
    shown = np.asarray(model_matrix(frame, "cka").axes[0].images[0].get_array().filled(np.nan))
    assert shown.shape == (3, 3)
    np.testing.assert_array_equal(shown, shown.T)
    assert np.isnan(shown[0, 2]) and np.isnan(shown[2, 0])
    assert shown[0, 1] == _value(frame, "a/l", "b/l")


def test_ordered_rows_win_over_mirrored_ones():
    frame = result_rows({"a": ["x", "y"], "b": ["y", "x"], "measure": "m", "params": [{}, {}],
                         "value": [0.25, 0.75]})
    shown = model_matrix(frame, "m").axes[0].images[0].get_array()
    assert (shown[0, 1], shown[1, 0]) == (0.25, 0.75)


def test_figures_accept_a_result_store_by_duck_typing():
    frame, _ = _grid_rows()

    class Store:
        def to_dataframe(self):
            return frame

    a = model_matrix(Store(), "cka").axes[0].images[0].get_array()
    b = model_matrix(frame, "cka").axes[0].images[0].get_array()
    np.testing.assert_array_equal(a, b)


def test_result_errors_name_the_argument(tmp_path):
    frame, _ = _grid_rows()
    with pytest.raises(TypeError, match="results must be a pandas DataFrame.*got int"):
        model_matrix(3, "cka")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        model_matrix(tmp_path / "missing.db", "cka")
    with pytest.raises(ValueError, match=r"lack the columns \['value'\]"):
        model_matrix(frame.drop(columns="value"), "cka")
    with pytest.raises(ValueError, match=r"the results have no measure='rsa'; they hold "
                                         r"\[\('cka', '\{\}'\)\]"):
        model_matrix(frame, "rsa")
    with pytest.raises(ValueError, match=r"lack the columns \['kind', 'symmetric'\]; expected "
                                         r"result rows"):
        model_matrix(frame.drop(columns=["kind", "symmetric"]), "cka")
    with pytest.raises(ValueError, match="model_b='m9' has no representations"):
        layer_heatmap(frame, "m0", "m9", "cka")
    two = pd.concat([frame, frame.assign(params=[{"kernel": "rbf"}] * len(frame))])
    with pytest.raises(ValueError, match="several configurations of measure='cka'.*pass params"):
        model_matrix(two, "cka")
    with pytest.raises(ValueError, match="no measure='cka' with params including "
                                         r"\{'kernel': 'poly'\}"):
        model_matrix(two, "cka", params={"kernel": "poly"})
    chosen = model_matrix(two, "cka", params={"kernel": "rbf"}).axes[0].images[0].get_array()
    assert chosen.shape == (6, 6)


def test_classical_mds_recovers_points_on_a_line():
    x = np.array([0.0, 1.0, 3.0, 7.0])
    embedded = classical_mds(np.abs(x[:, None] - x[None, :]), 1).ravel()
    centred = x - x.mean()
    sign = np.sign(embedded @ centred)  # reflection is free
    np.testing.assert_allclose(sign * embedded, centred, atol=1e-12)


def test_classical_mds_recovers_a_configuration_up_to_rotation():
    rng = np.random.default_rng(1)
    points = rng.standard_normal((8, 2))
    distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    embedded = classical_mds(distances, 2)
    recovered = np.sqrt(((embedded[:, None] - embedded[None]) ** 2).sum(-1))
    np.testing.assert_allclose(recovered, distances, atol=1e-10)
    # the best rotation of the centred points onto the embedding is exact (Procrustes)
    centred = points - points.mean(0)
    u, _, vt = np.linalg.svd(centred.T @ embedded)
    np.testing.assert_allclose(centred @ u @ vt, embedded, atol=1e-10)


def test_classical_mds_of_a_square_has_equal_eigen_axes():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    d = np.sqrt(((square[:, None] - square[None]) ** 2).sum(-1))
    embedded = classical_mds(d, 4)
    np.testing.assert_allclose(embedded[:, 2:], 0, atol=1e-7)  # rank 2
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), np.sqrt(0.5))


def test_classical_mds_errors():
    with pytest.raises(ValueError, match=r"square matrix; got shape \(2, 3\)"):
        classical_mds(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        classical_mds(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="symmetric and non-negative"):
        classical_mds(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="n_components must be an integer between 1 and 2; got 3"):
        classical_mds(np.zeros((2, 2)), 3)


def test_model_map_places_each_representation_from_one_minus_similarity():
    frame, names = _grid_rows()
    figure = model_map(frame, "cka")
    ax = figure.axes[0]
    placed = np.vstack([c.get_offsets() for c in ax.collections])
    assert placed.shape == (len(names), 2)
    # labels name the layer (the colour names the model), each point labelled once
    assert figure.repalign_labels == {name: name.split("/")[1] for name in names}
    assert sorted(t.get_text() for t in ax.texts) == sorted(n.split("/")[1] for n in names)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["m0", "m1"]
    distances = np.array([[0.0 if a == b else 1 - _value(frame, a, b) for b in names]
                          for a in names])
    expected = classical_mds(distances, 2)
    mine = np.vstack([ax.collections[0].get_offsets(), ax.collections[1].get_offsets()])
    np.testing.assert_allclose(mine, expected, atol=1e-12)


def test_model_map_reads_distances_as_they_are():
    frame = pd.DataFrame({"a": ["p", "p", "q"], "b": ["q", "r", "r"], "measure": "plugin",
                          "params": [{}] * 3, "value": [3.0, 4.0, 5.0],  # a 3-4-5 triangle
                          "kind": "distance", "symmetric": True, "bound_low": 0.0,
                          "bound_high": np.inf})  # a plugin measure: the rows say what it is
    ax = model_map(frame, "plugin").axes[0]
    points = np.vstack([c.get_offsets() for c in ax.collections])
    assert np.isclose(np.linalg.norm(points[0] - points[1]), 3.0)
    assert np.isclose(np.linalg.norm(points[1] - points[2]), 5.0)
    unbounded = frame.assign(kind="similarity")
    with pytest.raises(ValueError, match="plugin is a similarity without an upper bound"):
        model_map(unbounded, "plugin")


def test_model_map_reads_similarities_against_their_upper_bound():
    frame = pd.DataFrame({"a": ["p", "p", "q"], "b": ["q", "r", "r"], "measure": "plugin",
                          "params": [{}] * 3, "value": [7.0, 6.0, 5.0], "kind": "similarity",
                          "symmetric": True, "bound_low": 0.0, "bound_high": 10.0})
    points = np.vstack([c.get_offsets() for c in model_map(frame, "plugin").axes[0].collections])
    assert np.isclose(np.linalg.norm(points[0] - points[1]), 3.0)  # 10 - 7
    assert np.isclose(np.linalg.norm(points[1] - points[2]), 5.0)  # 10 - 5


def test_rdm_plot_with_the_92_image_categories():
    data = repalign.datasets.kriegeskorte92()
    figure = rdm_plot(data.monkey_it, data.category, title="monkey IT")
    main, top, left, colourbar = figure.axes
    np.testing.assert_array_equal(main.images[0].get_array(), data.monkey_it)
    names = list(dict.fromkeys(data.category))
    assert len(names) == 6
    index = [names.index(c) for c in data.category]
    np.testing.assert_array_equal(top.images[0].get_array().ravel(), index)
    np.testing.assert_array_equal(left.images[0].get_array().ravel(), index)
    assert [t.get_text() for t in figure.legends[0].get_texts()] == names
    assert colourbar.get_ylabel() == "dissimilarity (distance, lower = more alike)"
    # distances' colours, spanning the dissimilarities of different stimuli (not the 0 diagonal)
    image = main.images[0]
    off_diagonal = data.monkey_it[~np.eye(92, dtype=bool)]
    assert image.get_cmap().name == "magma_r"
    assert (image.norm.vmin, image.norm.vmax) == (off_diagonal.min(), off_diagonal.max())
    assert "Representational dissimilarity matrix of monkey IT for 92 stimuli" in \
        figure.repalign_caption
    assert len(rdm_plot(np.eye(3)).axes) == 2  # no categories: no bars


def test_rdm_plot_errors():
    with pytest.raises(ValueError, match=r"rdm must be a square matrix; got shape \(3,\)"):
        rdm_plot(np.zeros(3))
    with pytest.raises(ValueError, match="categories has 2 labels but rdm has 3 stimuli"):
        rdm_plot(np.zeros((3, 3)), ["a", "b"])


def test_alignment_curve_shows_band_curve_and_stars():
    values = np.array([0.1, 0.3, 0.2, 0.4])
    p = np.array([0.5, 0.01, np.nan, 0.04])
    figure = alignment_curve(["l1", "l2", "l3", "l4"], values, ceiling=(0.5, 0.6),
                             p_values=p, alpha=0.05)
    ax = figure.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), values)
    band = ax.patches[0]  # the ceiling: a rectangle spanning the x axis
    assert np.allclose([band.get_y(), band.get_y() + band.get_height()], [0.5, 0.6])
    stars = ax.collections[-1].get_offsets()
    np.testing.assert_array_equal(np.asarray(stars)[:, 0], [1, 3])  # p < alpha, NaN excluded
    assert [t.get_text() for t in ax.get_xticklabels()] == ["l1", "l2", "l3", "l4"]


def test_alignment_curve_with_confidence_intervals():
    values = np.array([0.2, 0.4])
    ax = alignment_curve(["a", "b"], values, ci=([0.1, 0.3], [0.25, 0.6])).axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), values)
    segments = ax.collections[0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments], [[0.1, 0.25], [0.3, 0.6]])


def test_alignment_curve_errors():
    with pytest.raises(ValueError, match="layers must name at least one layer"):
        alignment_curve([], [])
    with pytest.raises(ValueError, match=r"values must have one value per layer, shape \(2,\)"):
        alignment_curve(["a", "b"], [1.0])
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\); got 2"):
        alignment_curve(["a"], [1.0], alpha=2)
    with pytest.raises(ValueError, match="lower <= upper"):
        alignment_curve(["a"], [1.0], ceiling=(0.6, 0.5))
    with pytest.raises(ValueError, match=r"p_values must have one value per layer"):
        alignment_curve(["a"], [1.0], p_values=[0.1, 0.2])


def _brain_rows():
    """Layers of net (and one of other) against "it": rsa in both orders, ridge both ways."""
    rows = [  # a symmetric grid stores an unordered pair in either order
        ("net/conv1", "it", "rsa", 0.10, 0.01, 0.05, 0.15),
        ("it", "net/conv2", "rsa", 0.30, 0.04, 0.20, 0.40),
        ("net/fc", "it", "rsa", 0.20, 0.03, 0.10, 0.30),
        ("net/out", "it", "rsa", 0.05, 0.50, 0.00, 0.10),
        ("other/fc", "it", "rsa", 0.90, 0.001, 0.80, 0.95),
        ("net/conv1", "it", "ridge", 0.40, None, None, None),
        ("it", "net/conv1", "ridge", 0.99, None, None, None),  # it predicting the layer
        ("net/fc", "it", "ridge", 0.60, None, None, None),
    ]
    return result_rows([{"a": a, "b": b, "measure": m, "params": {}, "value": v,
                         "p_value": p, "ci_low": lo, "ci_high": hi}
                        for a, b, m, v, p, lo, hi in rows])


def test_alignment_curve_from_results_reads_both_orders_and_corrects_p_values():
    frame = _brain_rows()
    figure = alignment_curve_from_results(frame, "it", "rsa", model="net", ceiling=(0.5, 0.7))
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "fc", "out"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.10, 0.30, 0.20, 0.05])
    # Benjamini-Hochberg by hand: sorted p 0.01, 0.03, 0.04, 0.5 against i * 0.05 / 4 =
    # 0.0125, 0.025, 0.0375, 0.05: only the first is below its threshold.
    stars = np.asarray(ax.collections[-1].get_offsets())
    np.testing.assert_array_equal(stars[:, 0], [0])
    assert "q < 0.05" in [t.get_text() for t in ax.get_legend().get_texts()]
    segments = ax.collections[0].get_segments()  # the error bars: ci_low to ci_high
    np.testing.assert_allclose([seg[:, 1] for seg in segments],
                               [[0.05, 0.15], [0.20, 0.40], [0.10, 0.30], [0.00, 0.10]])
    uncorrected = alignment_curve_from_results(frame, "it", "rsa", model="net", fdr=False)
    stars = np.asarray(uncorrected.axes[0].collections[-1].get_offsets())
    np.testing.assert_array_equal(stars[:, 0], [0, 1, 2])  # p < 0.05 without correction


def test_alignment_curve_from_results_keeps_the_layer_first_for_asymmetric_measures():
    ax = alignment_curve_from_results(_brain_rows(), "it", "ridge").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "fc"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.40, 0.60])
    assert not ax.collections  # no p-values, no intervals: no stars, no error bars


def test_alignment_curve_from_results_follows_the_given_layer_order(tmp_path):
    with repalign.ResultStore(tmp_path / "results.db") as store:
        for row in _brain_rows().to_dict("records"):
            row = {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
            store.put({**row, "hash_a": row["a"], "hash_b": row["b"], "n_stimuli": 92,
                       "seconds": 0.0, "library_version": "test"})
    figure = alignment_curve_from_results(tmp_path / "results.db", "it", "rsa", model="net",
                                          layers=["fc", "conv1"])
    np.testing.assert_array_equal(figure.axes[0].lines[0].get_ydata(), [0.20, 0.10])


def test_alignment_curve_from_results_errors():
    frame = _brain_rows()
    with pytest.raises(ValueError, match=r"models \['net', 'other'\]; pass model="):
        alignment_curve_from_results(frame, "it", "rsa")
    with pytest.raises(ValueError, match="model='cnn' has no layers compared with target='it'"):
        alignment_curve_from_results(frame, "it", "rsa", model="cnn")
    with pytest.raises(ValueError, match="target='v4' has no rsa rows"):
        alignment_curve_from_results(frame, "v4", "rsa", model="net")
    with pytest.raises(ValueError, match=r"target='net/conv2' has no ridge rows as b"):
        alignment_curve_from_results(frame, "net/conv2", "ridge")
    with pytest.raises(ValueError, match=r"layers \['pool'\] of model 'net' have no rsa row"):
        alignment_curve_from_results(frame, "it", "rsa", model="net", layers=["fc", "pool"])
    with pytest.raises(ValueError, match="the results have no measure='cka'"):
        alignment_curve_from_results(frame, "it", "cka", model="net")


def test_params_select_rows_read_back_from_a_result_store(tmp_path):
    # The store keeps params as compact canonical JSON; a dict given to params=
    # must select them as it selects dicts of a DataFrame.
    frame = _brain_rows()
    with repalign.ResultStore(tmp_path / "results.db") as store:
        for row in frame[frame["measure"] == "rsa"].to_dict("records"):
            for compare, sign in (("spearman", 1), ("pearson", -1)):
                store.put({"a": row["a"], "b": row["b"], "hash_a": row["a"],
                           "hash_b": row["b"], "measure": "rsa",
                           "params": {"compare": compare}, "value": sign * row["value"],
                           "kind": "similarity", "symmetric": True, "bound_low": -1.0,
                           "bound_high": 1.0, "n_stimuli": 92, "seconds": 0.0})
    figure = model_matrix(tmp_path / "results.db", "rsa", params={"compare": "pearson"})
    assert np.nanmax(figure.axes[0].images[0].get_array()) <= 0


def _kind_rows(kind, n_stimuli=(50,)):
    """Three representations of two models, one row per pair, on each stimulus set."""
    names = ["p/l1", "p/l2", "q/l1"]
    return pd.DataFrame([
        {"a": a, "b": b, "measure": "plugin", "params": {"k": 10}, "value": 0.1 * (i + j + 1),
         "kind": kind, "symmetric": True, "bound_low": 0.0, "bound_high": 1.0,
         "n_stimuli": n, "ci_low": 0.1 * (i + j), "ci_high": 0.1 * (i + j + 2)}
        for n in n_stimuli for i, a in enumerate(names) for j, b in enumerate(names) if i < j])


@pytest.mark.parametrize("kind, cmap, label", [
    ("similarity", "viridis", "plugin (similarity, higher = more alike)"),
    ("distance", "magma_r", "plugin (distance, lower = more alike)"),
])
def test_matrices_are_coloured_by_the_measures_kind(kind, cmap, label):
    frame = _kind_rows(kind)
    for figure in (model_matrix(frame, "plugin"), layer_heatmap(frame, "p", "q", "plugin")):
        image, colour_bar = figure.axes[0].images[0], figure.axes[1]
        assert image.get_cmap().name == cmap
        assert colour_bar.get_ylabel() == label
        assert f"a {kind} from 0 to 1" in figure.repalign_caption
    assert rdm_plot(np.eye(3)).axes[0].images[0].get_cmap().name == "magma_r"  # an RDM


def test_captions_are_sentences_with_measure_parameters_stimuli_colour_and_interval():
    caption = model_matrix(_kind_rows("distance"), "plugin").repalign_caption
    assert caption.startswith("Every pair of 3 representations: plugin (10 nearest "
                              "neighbours), on 50 stimuli.")
    assert "plugin is a distance from 0 to 1 (lower = more alike)." in caption
    assert "brighter = lower distance = more alike" in caption
    assert "3 of 3 values have an interval (median width 0.2)" in caption
    assert "{" not in caption  # no JSON
    curve = alignment_curve_from_results(_brain_rows(), "it", "rsa", model="net",
                                         ceiling=(0.5, 0.7)).repalign_caption
    assert curve.startswith("Alignment of 4 layers of net with it, in network order: rsa "
                            "(default parameters), on an unknown number of stimuli.")
    assert "drawn as error bars" in curve and "noise ceiling, from 0.5 to 0.7" in curve
    assert "Benjamini-Hochberg q < 0.05 (4 layers tested)" in curve


def test_params_in_words():
    from repalign.viz._common import params_in_words

    assert params_in_words("{}") == "default parameters"
    assert params_in_words({"compare": "spearman", "rdm": "correlation"}) == (
        "RDMs compared by Spearman correlation, RDMs from correlation distance")
    assert params_in_words({"cv": 5, "alphas": [0.1, 1.0, 10.0], "dims": None}) == (
        "5-fold cross-validation, 3 ridge penalties from 0.1 to 10")
    assert params_in_words({"unknown": 1.5}) == "unknown = 1.5"


def test_matrices_never_mix_stimulus_sets():
    frame = _kind_rows("similarity", n_stimuli=(50, 92))
    frame.loc[frame["n_stimuli"] == 92, "value"] += 0.5
    for draw in (lambda **kw: model_matrix(frame, "plugin", **kw),
                 lambda **kw: layer_heatmap(frame, "p", "q", "plugin", **kw),
                 lambda **kw: model_map(frame, "plugin", **kw)):
        with pytest.raises(ValueError, match=r"computed on 2 stimulus sets \(n_stimuli 50, "
                                             r"92\).*pass n_stimuli="):
            draw()
    shown = model_matrix(frame, "plugin", n_stimuli=92).axes[0].images[0].get_array()
    np.testing.assert_allclose(shown[0, 1:], [0.7, 0.8])
    assert "on 92 stimuli" in model_matrix(frame, "plugin", n_stimuli=92).repalign_caption
    with pytest.raises(ValueError, match=r"n_stimuli=7: the plugin rows hold the stimulus "
                                         r"sets of 50, 92 stimuli"):
        model_matrix(frame, "plugin", n_stimuli=7)
    # the names shown decide: layers all compared on one set are drawn whatever else is there
    extra = pd.concat([_kind_rows("similarity"), _kind_rows("similarity").assign(
        a="it", n_stimuli=92)])
    assert layer_heatmap(extra, "p", "q", "plugin").axes[0].images[0].get_array().shape == (2, 1)


def _overlap_area(a, b):
    return (max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
            * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0)))


def test_model_map_labels_do_not_overlap():
    from matplotlib.text import Text

    # 5 models x 6 layers: layers of a model drift along a line, models close together,
    # so that labels at fixed offsets (the old map) collide
    rng = np.random.default_rng(3)
    names = [f"net{m}/layer{k}" for m in range(5) for k in range(6)]
    points = np.array([[k + 0.15 * m, 0.1 * m + 0.05 * rng.standard_normal()]
                       for m in range(5) for k in range(6)])
    rows = [{"a": a, "b": b, "measure": "d", "params": {}, "kind": "distance",
             "symmetric": True, "bound_low": 0.0, "bound_high": np.inf, "n_stimuli": 40,
             "value": float(np.linalg.norm(points[i] - points[j]))}
            for i, a in enumerate(names) for j, b in enumerate(names) if i < j]
    figure = model_map(pd.DataFrame(rows), "d")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    ax = figure.axes[0]
    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # the text only
    assert len(figure.repalign_labels) >= len(names) // 2  # most points are labelled
    worst = max(_overlap_area(a, b) / min(a.width * a.height, b.width * b.height)
                for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert worst == 0.0
    axes_box = ax.get_window_extent(renderer)
    assert all(axes_box.x0 <= b.x0 and b.x1 <= axes_box.x1 and axes_box.y0 <= b.y0
               and b.y1 <= axes_box.y1 for b in boxes)  # inside the axes
    centres = ax.transData.transform(np.vstack([c.get_offsets() for c in ax.collections]))
    for box in boxes:  # no label covers a point's centre
        assert not any(box.x0 < x < box.x1 and box.y0 < y < box.y1 for x, y in centres)
    captions = figure.repalign_caption
    unlabelled = len(names) - len(figure.repalign_labels)
    assert (f"{unlabelled} of {len(names)} points had no room" in captions) == bool(unlabelled)
    # the legend names the models with their colours
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [f"net{m}" for m in range(5)]
    assert [c.get_facecolor()[0].tolist() for c in ax.collections] == [
        list(__import__("matplotlib").colors.to_rgba(f"C{m}")) for m in range(5)]
