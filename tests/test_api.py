"""The public face: measure, get, list_measures and their errors."""

import numpy as np
import pytest

import repalign

from .conftest import correlated_pair

EXPECTED = {"cka", "rsa", "cca", "svcca", "pwcca", "procrustes", "shape_metric", "nbs",
            "bures"}


def test_public_names_are_exported():
    for name in ("measure", "get", "list_measures", "compare_rdms", "Measure", "Prepared",
                 "DegenerateWarning", "__version__"):
        assert name in repalign.__all__
        assert hasattr(repalign, name)


def test_list_measures_records():
    records = repalign.list_measures()
    assert EXPECTED <= {r.name for r in records}
    assert [r.name for r in records] == sorted(r.name for r in records)
    cka = next(r for r in records if r.name == "cka")
    assert cka.kind == "similarity" and cka.symmetric is True
    assert cka.parameters == {"kernel": "linear", "sigma_frac": 0.8, "estimator": "biased"}
    assert "Kornblith" in cka.reference
    assert "orthogonal" in cka.invariances
    pwcca = next(r for r in records if r.name == "pwcca")
    assert pwcca.symmetric is False
    procrustes = next(r for r in records if r.name == "procrustes")
    assert procrustes.kind == "distance" and procrustes.bounds == (0.0, np.pi / 2)
    rsa = next(r for r in records if r.name == "rsa")
    assert rsa.parameters == {"rdm": "correlation", "compare": "spearman"}


def test_measure_equals_configured_get():
    X, Y = correlated_pair()
    assert repalign.measure("cka", X, Y, kernel="rbf") == repalign.get("cka", kernel="rbf")(X, Y)


def test_unknown_measure_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"Unknown measure 'ckaa'; expected one of \[.*'cka'"):
        repalign.get("ckaa")
    with pytest.raises(TypeError, match=r"name must be a str"):
        repalign.get(3)


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(TypeError, match=r"cka got unknown parameter\(s\) \['kernal'\]; valid "
                                        r"parameters are \['dtype', 'estimator', 'kernel', 'sigma_frac'\]"):
        repalign.get("cka", kernal="rbf")


@pytest.mark.parametrize("name, params, error, match", [
    ("cka", {"kernel": "poly"}, ValueError, r"cka: kernel='poly' is not valid; expected one of \['linear', 'rbf'\]"),
    ("cka", {"sigma_frac": 0.0}, ValueError, r"cka: sigma_frac=0.0 is not in \(0, inf\)"),
    ("cka", {"sigma_frac": "wide"}, TypeError, r"cka: sigma_frac must be a real number"),
    ("cka", {"estimator": "debiased"}, ValueError, r"estimator='debiased' is not valid"),
    ("rsa", {"rdm": "mahalanobis"}, ValueError, r"rdm='mahalanobis' is not valid; expected one of"),
    ("rsa", {"compare": "tau_b"}, ValueError, r"compare='tau_b' is not valid"),
    ("cca", {"statistic": "max"}, ValueError, r"statistic='max' is not valid"),
    ("svcca", {"variance": 1.5}, ValueError, r"svcca: variance=1.5 is not in \(0, 1\]"),
    ("svcca", {"dims": 0}, ValueError, r"svcca: dims=0 is not in \[1, inf\) or None"),
    ("svcca", {"dims": 2.5}, TypeError, r"svcca: dims must be an integer"),
    ("svcca", {"dims": True}, TypeError, r"svcca: dims must be an integer"),
    ("shape_metric", {"alpha": -0.1}, ValueError, r"alpha=-0.1 is not in \[0, 1\]"),
    ("shape_metric", {"distance": "cosine"}, ValueError, r"distance='cosine' is not valid"),
])
def test_invalid_parameter_values(name, params, error, match):
    with pytest.raises(error, match=match):
        repalign.get(name, **params)


def test_non_array_input_is_rejected():
    X, _ = correlated_pair()
    with pytest.raises(TypeError, match=r"Y must hold real numbers; got dict"):
        repalign.measure("cka", X, {"a": 1})


def test_list_input_is_accepted():
    X, Y = correlated_pair()
    assert repalign.measure("cka", X.tolist(), Y.tolist()) == repalign.measure("cka", X, Y)


def test_every_measure_has_a_family_test():
    """Each registered measure is checked against a reference in a family test file."""
    import pathlib

    folder = pathlib.Path(__file__).parent / "measures"
    text = "".join(p.read_text() for p in folder.glob("test_*.py") if p.name != "test_common.py")
    missing = [m.name for m in repalign.list_measures() if f'"{m.name}"' not in text]
    assert not missing, f"no family test mentions {missing}"
    assert len(repalign.list_measures()) >= 30
