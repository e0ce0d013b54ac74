"""The bundled Kriegeskorte 92-image RDMs, checked against the original files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat
from scipy.spatial.distance import squareform

import repalign

#: The original files, copied verbatim into the package's data folder.
ORIGINALS = Path(repalign.__file__).resolve().parent / "datasets" / "data" / "kriegeskorte92"
SUPPLEMENT = ORIGINALS / "Kriegeskorte_Neuron2008_supplementalData.mat"
#: MD5 of the files as distributed (rsatoolbox demos/92imageData; recorded once, 2026-12-06).
SOURCE_MD5 = {"92_brainRDMs.mat": "f562b895d93eac142724525f11226092",
              "92_behavRDMs.mat": "79813942c9fe965707ef1ce33aafcac4",
              "92_modelRDMs.mat": "44eb0f031e80a379de3c7a6dbc0b72b4",
              "Kriegeskorte_Neuron2008_supplementalData.mat": "d680895b747044338f32fdbd3e96074b"}


@pytest.fixture(scope="module")
def data():
    return repalign.datasets.kriegeskorte92()


def test_rdms_are_valid(data):
    rdms = np.concatenate([data.human_it.reshape(8, 92, 92), data.behavior,
                           data.monkey_it[None], np.stack(list(data.models.values()))])
    assert data.human_it.shape == (4, 2, 92, 92) and data.behavior.shape == (16, 92, 92)
    assert rdms.dtype == np.float64 and len(rdms) == 8 + 16 + 1 + 7
    np.testing.assert_array_equal(rdms, np.swapaxes(rdms, 1, 2))
    assert not np.diagonal(rdms, axis1=1, axis2=2).any() and (rdms >= 0).all()
    assert data.subjects == ("BE", "KO", "SN", "TI")
    assert sorted(data.models) == sorted(
        ["animacy", "FaceBodyManmadeNatobj", "EVA", "HMAX", "V1", "Silhouette", "RADON"])
    assert "Neuron 60(6):1126-1141" in data.citation


def test_labels(data):
    counts = {name: int(v.sum()) for name, v in data.labels.items()}
    assert counts == {"animate": 48, "inanim": 44, "human": 24, "nonhumani": 24, "body": 24,
                      "face": 24, "natObj": 23, "artiObj": 21, "rand24": 22, "rand48": 46,
                      "other48": 46, "monkeyape": 7}
    np.testing.assert_array_equal(data.labels["animate"], np.arange(92) < 48)
    category = np.array(data.category)
    np.testing.assert_array_equal(data.labels["face"], np.char.endswith(category, "face"))
    np.testing.assert_array_equal(data.labels["human"], np.char.startswith(category, "human"))
    np.testing.assert_array_equal(data.labels["natObj"], category == "natural inanimate")
    # The animacy model RDM is 0 within and 1 across the animate/inanimate split.
    animate = data.labels["animate"]
    np.testing.assert_array_equal(data.models["animacy"], animate[:, None] != animate[None])


def test_sanity_values_of_the_shared_data_readme(data):
    """Spearman values measured when the data were collected (shared data README)."""
    human = data.human_it.mean(axis=(0, 1))
    behavior = data.behavior.mean(axis=0)
    assert repalign.compare_rdms(human, behavior) == pytest.approx(0.392, abs=5e-4)
    assert repalign.compare_rdms(data.monkey_it, behavior) == pytest.approx(0.394, abs=5e-4)


def test_the_bundled_files_are_the_originals():
    for file, digest in SOURCE_MD5.items():
        assert hashlib.md5((ORIGINALS / file).read_bytes()).hexdigest() == digest, file


def test_matches_the_original_files(data):
    brain = loadmat(ORIGINALS / "92_brainRDMs.mat")["RDMs"]
    for subject in range(4):
        for session in range(2):
            entry = brain[0, subject, session]
            assert str(entry["name"][0]) == (
                f"hIT | {data.subjects[subject]} | Session: {session + 1}")
            np.testing.assert_array_equal(data.human_it[subject, session], entry["RDM"])
    supplement = loadmat(SUPPLEMENT)
    mit = supplement["RDMs_mIT_hIT_fig1"][0, 0]
    assert str(mit["name"][0]) == "mIT_674neurons"
    np.testing.assert_array_equal(data.monkey_it, squareform(mit["RDM"].ravel()))
    labels = [str(x[0]) for x in supplement["categoryLabels"].ravel()]
    assert list(data.labels) == labels
    np.testing.assert_array_equal(np.stack(list(data.labels.values()), axis=1),
                                  supplement["categoryVectors"] > 0)


def test_images_load_from_the_supplement():
    images = repalign.datasets.kriegeskorte92(images=SUPPLEMENT).images
    assert images.shape == (92, 175, 175, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(repalign.datasets.kriegeskorte92().images, images)
    assert repalign.datasets.kriegeskorte92(images=False).images is None


def test_images_from_a_wrong_file(tmp_path):
    path = tmp_path / "other.mat"
    savemat(path, {"x": np.zeros(3)})
    with pytest.raises(ValueError, match=r"images: .* does not hold the 92 stimuli .*\(found 0"):
        repalign.datasets.kriegeskorte92(images=path)
