"""A grid's rows held as columns (GridRows, MeasureRows) and the plan held as arrays."""

from __future__ import annotations

import numpy as np
import pytest

import repalign
from repalign.grid import plan
from repalign.results import GridRows, MeasureRows, measure_fields

from .test_grid import linear_cka, make_reps


def _naive_plan(names, selection, symmetric):
    """The pairs of a named selection by the definition, one pair at a time."""
    models = [plan.model_of(n) for n in names]
    keep = {"all": lambda i, j: True,
            "across_models": lambda i, j: models[i] != models[j],
            "within_model": lambda i, j: models[i] == models[j]}[selection]
    L = len(names)
    return [(i, j) for i in range(L) for j in range(i if symmetric else 0, L) if keep(i, j)]


@pytest.mark.parametrize("selection", ["all", "across_models", "within_model"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_plan_pairs_equal_the_definition_in_order(selection, symmetric):
    names = [f"{'abc'[k % 3]}/l{k}" for k in range(11)]
    planned = plan.plan_pairs(names, selection, symmetric)
    assert planned.shape[1] == 2
    assert list(map(tuple, planned.tolist())) == _naive_plan(names, selection, symmetric)


def test_tiles_keep_row_major_order_within_and_across_blocks():
    names = [f"m/{k}" for k in range(13)]
    pairs = plan.plan_pairs(names, "all", symmetric=True)
    tile_list = plan.tiles(pairs[::-1], 4)  # the input order does not matter
    blocks = [(min(t.pairs[0]) // 4, max(t.pairs[0]) // 4) for t in tile_list]
    assert blocks == sorted(blocks) and len(set(blocks)) == len(blocks)
    for t in tile_list:
        assert list(t.pairs) == sorted(t.pairs)
        assert {(min(p) // 4, max(p) // 4) for p in t.pairs} == {(min(t.pairs[0]) // 4,
                                                                  max(t.pairs[0]) // 4)}


def test_grid_rows_are_the_closed_form_values_in_plan_order():
    reps = make_reps(L=4)
    result = repalign.grid(reps, ["cka", "rsa"])
    names = list(reps)
    rows = list(result.rows)
    assert len(rows) == len(result.rows) == 2 * 10
    expected_pairs = [(names[i], names[j]) for i in range(4) for j in range(i, 4)]
    assert [(r["a"], r["b"]) for r in rows[:10]] == expected_pairs
    for r in rows[:10]:
        assert r["value"] == pytest.approx(linear_cka(reps[r["a"]], reps[r["b"]]), abs=1e-12)
        assert r["measure"] == "cka" and r["ci_low"] is None and r["n_stimuli"] == 40
        assert isinstance(r["value"], float) and isinstance(r["n_stimuli"], int)
    assert [r["measure"] for r in rows[10:]] == ["rsa"] * 10


def test_grid_rows_behave_as_a_tuple_of_dicts():
    result = repalign.grid(make_reps(L=3), ["cka"])
    rows = tuple(result.rows)
    assert result.rows == rows and result.rows == list(rows)
    assert result.rows[-1] == rows[-1] and result.rows[1:4:2] == rows[1:4:2]
    assert result.rows != rows[:-1] and result.rows != "not rows"
    with pytest.raises(IndexError, match="row 6 of 6"):
        result.rows[6]
    result.rows[0]["value"] = -1.0  # a row read is a copy: the grid's rows are unchanged
    assert result.rows[0] == rows[0]
    assert "GridRows([{" in repr(result.rows) and "(6 rows)" in repr(result.rows)


def test_grid_rows_with_statistics_keep_none_and_numbers():
    stats = {"n_permutations": 9, "interval": None, "seed": 1}
    result = repalign.grid(make_reps(L=3), ["cka"], stats=stats)
    for r in result.rows:
        assert r["ci_low"] is None and r["ci_high"] is None
        assert 0 < r["p_value"] <= 1


def test_measure_rows_refuse_pairs_outside_the_plan_and_unfilled_rows():
    m = repalign.get("cka")
    table = MeasureRows({**measure_fields(m), "library_version": "x"}, [(0, 1), (1, 1)],
                        statistics=False)
    with pytest.raises(KeyError, match="not in the plan"):
        table.positions([0], [0])
    with pytest.raises(ValueError, match="2 planned pairs have no row"):
        GridRows(["a", "b"], ["h0", "h1"], [table])
    table.put([(1, 1, {"value": 1.0, "ci_low": None, "ci_high": None, "p_value": None,
                       "n_stimuli": 5, "seconds": 0.0}, None)])
    assert table.pending().tolist() == [[0, 1]]


def _generic(result):
    """The same result with its rows as a tuple of dicts: the views' row-by-row path."""
    return repalign.GridResult(result.representations, tuple(result.rows), result.statistics)


@pytest.mark.filterwarnings("ignore:rsa. the jackknife interval was asked for")
@pytest.mark.parametrize("stats", [None, {"n_permutations": 9, "interval": "jackknife"}])
def test_views_from_columns_equal_the_views_from_rows(stats, tmp_path):
    import pandas.testing

    reps = make_reps(L=4)
    path = tmp_path / "rows.sqlite"
    first = dict(list(reps.items())[:2])
    repalign.grid(first, ["cka", ("rsa", {"compare": "pearson"})], stats=stats, results=path)
    # resumed: the pairs of the first two representations are read back from the store
    result = repalign.grid(reps, ["cka", ("rsa", {"compare": "pearson"})], stats=stats,
                           results=path)
    assert len(result.rows.parts[0].stored) == 3
    assert "created" in result.rows[0] and "created" not in result.rows[-1]
    pandas.testing.assert_frame_equal(result.to_dataframe(), _generic(result).to_dataframe())
    for measure in ("cka", "rsa"):
        got, expected = result.to_xarray(measure), _generic(result).to_xarray(measure)
        np.testing.assert_array_equal(got.values, expected.values)
        assert got.attrs == expected.attrs
        assert not np.isnan(got.values).any()


def test_xarray_from_columns_refuses_an_ambiguous_measure():
    result = repalign.grid(make_reps(L=3), [("rsa", {"compare": "pearson"}),
                                            ("rsa", {"compare": "spearman"})])
    with pytest.raises(ValueError, match="several configurations of measure='rsa'.*pass "
                                         "params to choose one"):
        result.to_xarray("rsa")
    with pytest.raises(ValueError, match="no measure='cka'"):
        result.to_xarray("cka")
    spearman = result.to_xarray("rsa", {"compare": "spearman"})
    assert spearman.attrs["params"] == _generic(result).to_xarray(
        "rsa", {"compare": "spearman"}).attrs["params"]
