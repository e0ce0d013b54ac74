"""The 92-image brain study (quick): bundled RDMs always, the network when the images exist."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

pytest.importorskip("matplotlib")

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import brain  # noqa: E402

HAVE_IMAGES = repalign.datasets.kriegeskorte92_images_path() is not None


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    if HAVE_IMAGES:
        pytest.importorskip("efficientnet_lite_pytorch")
    out = tmp_path_factory.mktemp("brain")
    result = studies.run("brain", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_writes_the_three_files_and_names_every_check(outcome):
    result, _ = outcome
    assert all(path.exists() for path in result.paths.values())
    summary = result.paths["summary"].read_text()
    assert all(check.claim in summary for check in result.checks)


def test_scores_are_per_subject_spearman_means_as_the_ceiling_is(outcome):
    """An independent per-subject computation (scipy): the mean over subjects of the
    Spearman rho with each subject's RDM; the group-mean comparison is kept apart."""
    _, table = outcome
    data = repalign.datasets.kriegeskorte92()
    upper = np.triu_indices(92, 1)
    subjects = data.human_it.mean(axis=1)
    monkey = table[(table.layer == "monkey_it") & (table.target == "human_it")].iloc[0]
    per_subject = [spearmanr(data.monkey_it[upper], s[upper])[0] for s in subjects]
    assert monkey.rho == pytest.approx(np.mean(per_subject), abs=1e-12)
    assert monkey.rho_sem == pytest.approx(np.std(per_subject, ddof=1) / 2, abs=1e-12)
    group = spearmanr(data.monkey_it[upper], subjects.mean(axis=0)[upper])[0]
    assert monkey.rho_group == pytest.approx(group, abs=1e-12)
    hmax = table[(table.layer == "HMAX") & (table.target == "human_judgments")].iloc[0]
    judged = [spearmanr(data.models["HMAX"][upper], s[upper])[0] for s in data.behavior]
    assert hmax.rho == pytest.approx(np.mean(judged), abs=1e-12)


def test_human_and_monkey_it_match_and_animacy_explains_it(outcome):
    _, table = outcome
    human = table[table.target == "human_it"].set_index("layer")
    # Kriegeskorte et al. (2008): the two species' IT RDMs match, p at its floor 1/200.
    assert human.loc["monkey_it", "rho"] > 0.25 and human.loc["monkey_it", "p_value"] == 1 / 200
    assert human.loc["animacy", "rho"] > human.loc["V1", "rho"]
    # The published human IT noise ceiling of the rsatoolbox demo data.
    assert human.loc["animacy", "ceiling_low"] == pytest.approx(0.372, abs=5e-4)
    assert human.loc["animacy", "ceiling_high"] == pytest.approx(0.666, abs=5e-4)


@pytest.mark.skipif(not HAVE_IMAGES, reason="the 92 images are not in this installation "
                                            "(built wheels leave them out)")
def test_late_blocks_match_it_best_and_beat_the_classic_models(outcome):
    _, table = outcome
    net = table[(table.model == brain.NETWORK) & (table.target == "human_it")]
    assert list(net.depth) == list(range(16))
    best = net.loc[net.rho.idxmax()]
    assert best.depth >= 11 and best.q_value < 0.05
    assert net.rho.iloc[-5:].mean() > net.rho.iloc[:5].mean() + 0.1
    classic = table[table.layer.isin(brain.CLASSIC) & (table.target == "human_it")]
    assert best.rho > classic.rho.max()


def test_a_missing_images_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="images must be the file"):
        studies.run("brain", tmp_path, quick=True, images=tmp_path / "nope.mat")
