"""The 92 images ship in the source tree (not in wheels) and load with no ../shared folder."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat

import repalign
from repalign.datasets import kriegeskorte92, kriegeskorte92_images_path
from repalign.datasets.kriegeskorte92 import IMAGES_FILE

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

PACKAGE = Path(repalign.__file__).resolve().parent
ROOT = PACKAGE.parents[1]


def test_the_images_file_is_in_the_package_data_folder():
    path = kriegeskorte92_images_path()
    assert path is not None and path.name == IMAGES_FILE
    assert path.resolve().parent == PACKAGE / "datasets" / "data" / "kriegeskorte92"


def test_the_images_are_found_with_no_shared_folder(monkeypatch, tmp_path):
    """The images load from the package's own data folder, and the brain study takes
    them from there by default (nothing points at a ../shared folder)."""
    from repalign.studies import brain

    assert brain._images(brain.Config()) == kriegeskorte92_images_path()
    monkeypatch.chdir(tmp_path)
    data = kriegeskorte92()
    assert data.images.shape == (92, 175, 175, 3) and data.images.dtype == np.uint8
    # The images are those of the package's file, in the order of the RDMs.
    stimuli = loadmat(PACKAGE / "datasets" / "data" / "kriegeskorte92" / IMAGES_FILE,
                      variable_names=["stimuli_92objs"])["stimuli_92objs"].ravel()
    np.testing.assert_array_equal(data.images[7], stimuli[7]["image"])
    assert [str(s["category"].ravel()[0]) for s in stimuli] == data.category


def test_without_the_bundled_file_there_are_no_images(monkeypatch):
    """As in an installation from a wheel: images is None, unless a path is given."""
    bundled = kriegeskorte92_images_path()
    module = importlib.import_module("repalign.datasets.kriegeskorte92")
    monkeypatch.setattr(module, "images_path", lambda: None)
    assert kriegeskorte92().images is None
    assert kriegeskorte92(images=bundled).images.shape == (92, 175, 175, 3)


def test_images_false_skips_them_and_a_wrong_type_is_refused():
    assert kriegeskorte92(images=False).images is None
    with pytest.raises(TypeError, match="images must be a path, None or False; got True"):
        kriegeskorte92(images=True)
    with pytest.raises(TypeError, match="images must be a path"):
        kriegeskorte92(images=3)


def test_the_wheel_leaves_the_images_out():
    """pyproject.toml excludes the photographs from built wheels (their copyright is
    unclear) and the data README says so."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    excluded = config["tool"]["setuptools"]["exclude-package-data"]["repalign"]
    assert f"datasets/data/kriegeskorte92/{IMAGES_FILE}" in excluded
    readme = (PACKAGE / "datasets" / "data" / "kriegeskorte92" / "README.md").read_text()
    assert "excluded from built wheels" in readme and "Kiani" in readme
