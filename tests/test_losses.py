"""repalign.losses: values against closed forms, minibatch bias measured, errors, and
small models trained end to end."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import repalign

torch = pytest.importorskip("torch")

from repalign.losses import (  # noqa: E402  (after the skip when torch is missing)
    AlignmentLoss,
    LayerwiseAlignmentLoss,
    OddOneOutLoss,
    glocal_penalty,
    local_structure_loss,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one thread (several threads on a shared CPU wait on each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _value(t):
    return float(t.detach())


def _pair(n=30, dx=6, dy=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx))
    Y = np.tanh(X @ rng.standard_normal((dx, dy))) + 0.5 * rng.standard_normal((n, dy))
    return torch.tensor(X, requires_grad=True), torch.tensor(Y)


# ---------------------------------------------------------------- AlignmentLoss
def test_alignment_loss_is_one_minus_a_similarity_or_the_distance():
    X, Y = _pair()
    Xn, Yn = X.detach().numpy(), Y.numpy()
    assert _value(AlignmentLoss("cka")(X, Y)) == pytest.approx(
        1 - repalign.measure("cka", Xn, Yn), rel=1e-12)
    assert _value(AlignmentLoss("procrustes")(X, Y)) == pytest.approx(
        repalign.measure("procrustes", Xn, Yn), rel=1e-12)
    linear = Xn - Xn.mean(0)
    Yc = Yn - Yn.mean(0)  # linear CKA, written out (Kornblith et al. 2019, eq. 5)
    cka = (np.linalg.norm(Yc.T @ linear) ** 2
           / (np.linalg.norm(linear.T @ linear) * np.linalg.norm(Yc.T @ Yc)))
    assert _value(AlignmentLoss()(X, Y)) == pytest.approx(1 - cka, rel=1e-12)


def test_alignment_loss_flattens_feature_maps_and_reduces_over_pairs():
    X, Y = _pair(dx=12)
    maps = X.reshape(30, 3, 2, 2)
    loss = AlignmentLoss("cka", kernel="rbf")
    assert _value(loss(maps, Y)) == pytest.approx(_value(loss(X, Y)), rel=1e-14)
    X2, Y2 = _pair(seed=1)
    each = AlignmentLoss("cka", reduction="none")([X, X2], [Y, Y2])
    assert each.shape == (2,)
    assert _value(AlignmentLoss("cka", reduction="sum")([X, X2], [Y, Y2])) == pytest.approx(
        _value(each.sum()), rel=1e-14)
    assert _value(AlignmentLoss("cka")([X, X2], [Y, Y2])) == pytest.approx(
        _value(each.mean()), rel=1e-14)


def test_alignment_loss_without_gradients_still_gives_a_tensor():
    X, Y = _pair()
    value = AlignmentLoss("cka")(X.detach(), Y)
    assert isinstance(value, torch.Tensor) and not value.requires_grad
    assert float(value) == pytest.approx(_value(AlignmentLoss("cka")(X, Y).detach()), rel=1e-14)


def test_alignment_loss_takes_a_configured_measure():
    m = repalign.get("cka", estimator="unbiased")
    X, Y = _pair()
    assert _value(AlignmentLoss(m)(X, Y)) == pytest.approx(
        _value(AlignmentLoss("cka", estimator="unbiased")(X, Y)), rel=1e-14)
    assert "cka(kernel='linear'" in repr(AlignmentLoss(m))


@pytest.mark.parametrize("args, kwargs, error, says", [
    (("rsa",), {}, ValueError, "AlignmentLoss: rsa takes no gradient: compare='spearman' "
                               "correlates ranks"),
    (("mutual_knn",), {}, ValueError, "nearest-neighbour sets"),
    (("cka",), {"reduction": "max"}, ValueError, "reduction"),
    ((repalign.get("cka"),), {"kernel": "rbf"}, TypeError, "got extra parameters ['kernel']"),
    ((3,), {}, TypeError, "measure must be a measure name or a Measure; got int"),
    (("nope",), {}, ValueError, "Unknown measure 'nope'"),
])
def test_alignment_loss_refuses_bad_configuration(args, kwargs, error, says):
    with pytest.raises(error) as info:
        AlignmentLoss(*args, **kwargs)
    assert says in str(info.value)


def test_alignment_loss_refuses_mismatched_inputs():
    X, Y = _pair()
    loss = AlignmentLoss()
    with pytest.raises(TypeError, match="both be tensors or both sequences"):
        loss(X, [Y])
    with pytest.raises(ValueError, match="same, non-zero length.*got 2 and 1"):
        loss([X, X], [Y])
    with pytest.raises(ValueError, match="X has 30 stimuli but Y has 29"):
        loss(X, Y[:-1])


# ---------------------------------------------------------------- minibatches
def _subsets(n, b):
    return [list(s) for s in itertools.combinations(range(n), b)]


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_unbiased_hsic_batches_average_to_the_full_value_and_biased_ones_do_not(kernel):
    """The mean over all batches of b of the n stimuli (each equally likely) is the
    expectation of a uniformly drawn batch."""
    rng = np.random.default_rng(3)
    n, b = 9, 5
    X = rng.standard_normal((n, 3))
    Y = np.tanh(X @ rng.standard_normal((3, 4))) + 0.5 * rng.standard_normal((n, 4))
    unbiased = repalign.get("cka", estimator="unbiased", kernel=kernel)
    biased = repalign.get("cka", kernel=kernel)
    u_batches = np.mean([unbiased.hsic(X[s], Y[s]) for s in _subsets(n, b)])
    b_batches = np.mean([biased.hsic(X[s], Y[s]) for s in _subsets(n, b)])
    if kernel == "linear":
        assert u_batches == pytest.approx(unbiased.hsic(X, Y), rel=1e-12)
    else:  # the RBF width is the median distance *of the batch*: not a U-statistic
        assert abs(u_batches / unbiased.hsic(X, Y) - 1) > 1e-3
    assert abs(b_batches / biased.hsic(X, Y) - 1) > 0.1
    cka_batches = np.mean([unbiased(X[s], Y[s]) for s in _subsets(n, b)])
    assert abs(cka_batches - unbiased(X, Y)) > 1e-3  # a ratio: biased even so


def test_hsic_matches_the_formulas_of_gretton_and_song():
    rng = np.random.default_rng(4)
    n = 11
    X, Y = rng.standard_normal((n, 3)), rng.standard_normal((n, 6))
    K, L = X @ X.T, Y @ Y.T
    H = np.eye(n) - 1 / n
    assert repalign.get("cka").hsic(X, Y) == pytest.approx(
        np.trace(K @ H @ L @ H) / (n - 1) ** 2, rel=1e-12)
    Kt, Lt, one = K - np.diag(np.diag(K)), L - np.diag(np.diag(L)), np.ones(n)
    song = (np.trace(Kt @ Lt) + one @ Kt @ one * (one @ Lt @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ Kt @ Lt @ one) / (n * (n - 3))
    assert repalign.get("cka", estimator="unbiased").hsic(X, Y) == pytest.approx(song,
                                                                                rel=1e-12)
    value = repalign.get("cka").hsic(torch.tensor(X, requires_grad=True), torch.tensor(Y))
    assert value.requires_grad


# ---------------------------------------------------------------- layer-wise guidance
def test_layerwise_loss_is_the_weighted_sum_of_pair_losses():
    X, Y = _pair()
    X2, Y2 = _pair(seed=2)
    target, guide = {"fc1": X, "fc2": X2}, {"conv1": Y, "conv2": Y2}
    pairs = [("fc1", "conv1"), ("fc2", "conv2")]
    one = AlignmentLoss()
    expected = 0.25 * one(X, Y) + 2.0 * one(X2, Y2)
    loss = LayerwiseAlignmentLoss(pairs, weights=[0.25, 2.0])
    assert _value(loss(target, guide)) == pytest.approx(_value(expected), rel=1e-14)
    mean = LayerwiseAlignmentLoss(pairs, weights=[0.25, 2.0], reduction="mean")
    assert _value(mean(target, guide)) == pytest.approx(_value(expected) / 2.25, rel=1e-14)
    each = LayerwiseAlignmentLoss(pairs, reduction="none")(target, guide)
    assert each.shape == (2,) and _value(each[1]) == pytest.approx(_value(one(X2, Y2)))


def test_layerwise_loss_takes_no_gradient_into_the_guide_unless_asked():
    X, _ = _pair()
    G = torch.tensor(_pair(seed=5)[1].numpy(), requires_grad=True)
    LayerwiseAlignmentLoss([("a", "b")])({"a": X}, {"b": G}).backward()
    assert G.grad is None and X.grad is not None
    LayerwiseAlignmentLoss([("a", "b")], detach_guide=False)({"a": X}, {"b": G}).backward()
    assert G.grad is not None


@pytest.mark.parametrize("kwargs, error, says", [
    ({"pairs": []}, ValueError, "pairs must be a non-empty sequence"),
    ({"pairs": [("a", "b", "c")]}, ValueError, "pairs must be a non-empty sequence"),
    ({"pairs": [("a", "b")], "weights": [1, 2]}, ValueError, "one entry per pair (1); got 2"),
    ({"pairs": [("a", "b")], "weights": [-1]}, ValueError, "non-negative with a positive sum"),
    ({"pairs": [("a", "b")], "weights": [0]}, ValueError, "non-negative with a positive sum"),
    ({"pairs": [("a", "b")], "reduction": "max"}, ValueError, "reduction"),
    ({"pairs": [("a", "b")], "measure": "cycle_knn"}, ValueError, "cycle_knn takes no gradient"),
])
def test_layerwise_loss_refuses_bad_configuration(kwargs, error, says):
    with pytest.raises(error) as info:
        LayerwiseAlignmentLoss(**kwargs)
    assert says in str(info.value)


def test_layerwise_loss_names_a_missing_layer():
    X, Y = _pair()
    loss = LayerwiseAlignmentLoss([("fc1", "conv1")])
    with pytest.raises(ValueError, match=r"guide has no layer 'conv1'; it has \['conv2'\]"):
        loss({"fc1": X}, {"conv2": Y})
    with pytest.raises(TypeError, match="target must be a mapping of layer name"):
        loss([X], {"conv1": Y})


# ---------------------------------------------------------------- odd-one-out
def test_odd_one_out_probability_is_the_softmax_of_the_pair_similarities():
    E = np.array([[1.0, 0.0], [0.8, 0.3], [0.1, 1.0], [0.5, 0.5]])
    triplets, choices = [[0, 1, 2], [3, 2, 0]], [2, 0]
    s = E @ E.T
    # Trial 1: odd one out 2 <=> pair (0, 1); trial 2: odd one out 3 <=> pair (2, 0).
    nll = [-math.log(math.exp(s[0, 1]) / (math.exp(s[0, 1]) + math.exp(s[0, 2])
                                          + math.exp(s[1, 2]))),
           -math.log(math.exp(s[2, 0] / 0.5) / (math.exp(s[2, 0] / 0.5) + math.exp(s[3, 0] / 0.5)
                                                + math.exp(s[3, 2] / 0.5)))]
    Et = torch.tensor(E)
    assert float(OddOneOutLoss()(Et, triplets[:1], choices[:1])) == pytest.approx(nll[0])
    each = OddOneOutLoss(temperature=0.5, reduction="none")(Et, triplets, choices)
    assert float(each[1]) == pytest.approx(nll[1])
    assert float(OddOneOutLoss(similarity="cosine")(Et * 3, triplets, choices)) == \
        pytest.approx(float(OddOneOutLoss(similarity="cosine")(Et, triplets, choices)))


def test_local_term_is_smallest_with_zero_gradient_when_nothing_moves():
    rng = np.random.default_rng(6)
    E = torch.tensor(rng.standard_normal((12, 4)), requires_grad=True)
    at_rest = local_structure_loss(E, E.detach(), temperature=0.2)
    (g,) = torch.autograd.grad(at_rest, E)
    assert float(g.abs().max()) < 1e-12
    S = torch.nn.functional.normalize(E.detach(), dim=1)
    S = (S @ S.T / 0.2).masked_fill(torch.eye(12, dtype=torch.bool), float("-inf"))
    p = torch.softmax(S, dim=1)
    entropy = -torch.sum(torch.where(p > 0, p * torch.log(p), 0)) / 12
    assert _value(at_rest) == pytest.approx(float(entropy), rel=1e-12)
    moved = local_structure_loss(E.detach() @ torch.tensor(rng.standard_normal((4, 4))),
                                 E.detach(), temperature=0.2)
    assert float(moved) > _value(at_rest)
    assert float(local_structure_loss(3 * E.detach(), E.detach(), 0.2)) == pytest.approx(
        _value(at_rest), rel=1e-12)  # cosine: blind to scale


def test_glocal_penalty_is_zero_on_scaled_identities_only():
    assert float(glocal_penalty(2.5 * torch.eye(3))) == 0.0
    W = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    assert float(glocal_penalty(W)) == pytest.approx(1.0 + 4.0 + 1.0)
    with pytest.raises(ValueError, match=r"W must be a square matrix; got shape \(2, 3\)"):
        glocal_penalty(torch.ones(2, 3))


@pytest.mark.parametrize("kwargs, says", [
    ({"similarity": "l2"}, "similarity"),
    ({"temperature": 0}, "temperature must be > 0; got 0"),
    ({"local_temperature": -1}, "local_temperature must be > 0"),
    ({"local_weight": -0.1}, "local_weight must be >= 0"),
    ({"local_weight": 1.0, "reduction": "none"}, "the local term (one per batch)"),
    ({"reduction": "median"}, "reduction"),
])
def test_odd_one_out_loss_refuses_bad_configuration(kwargs, says):
    with pytest.raises(ValueError) as info:
        OddOneOutLoss(**kwargs)
    assert says in str(info.value)


def test_odd_one_out_loss_refuses_bad_trials_and_inputs():
    E = torch.randn(5, 3, dtype=torch.float64)
    loss = OddOneOutLoss()
    with pytest.raises(ValueError, match="choices must be 0, 1 or 2"):
        loss(E, [[0, 1, 2]], [3])
    with pytest.raises(ValueError, match="0-based indices into the 5 rows of embedding"):
        loss(E, [[0, 1, 5]], [0])
    with pytest.raises(TypeError, match=r"embedding must be a 2-D tensor.*got shape \(5,\)"):
        loss(E[:, 0], [[0, 1, 2]], [0])
    with pytest.raises(TypeError, match="got ndarray"):
        loss(E.numpy(), [[0, 1, 2]], [0])
    with pytest.raises(ValueError, match="local_weight > 0 needs original"):
        OddOneOutLoss(local_weight=0.5)(E, [[0, 1, 2]], [0])
    with pytest.raises(ValueError, match="same items"):
        local_structure_loss(E, E[:4])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        local_structure_loss(E, E, temperature=0.0)


# ---------------------------------------------------------------- end to end
def test_a_network_trained_with_alignment_loss_on_minibatches_aligns_on_held_out_data():
    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    inputs = torch.tensor(rng.standard_normal((600, 8)), dtype=torch.float32)
    mix = torch.tensor(rng.standard_normal((8, 6)), dtype=torch.float32)
    target = torch.tanh(inputs @ mix / 2)  # the representation to reach
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 6))
    loss_fn = AlignmentLoss("cka", estimator="unbiased")
    held_out = slice(500, 600)

    def held_out_cka():
        with torch.no_grad():
            return repalign.measure("cka", net(inputs[held_out]).double().numpy(),
                                    target[held_out].double().numpy())

    before = held_out_cka()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(15):
        for batch in torch.randperm(500).split(50):
            opt.zero_grad()
            loss = loss_fn(net(inputs[batch]), target[batch])
            loss.backward()
            opt.step()
    after = held_out_cka()
    assert before < 0.75 and after > 0.95, (before, after)


def test_guidance_training_pulls_the_target_layers_towards_a_frozen_guide():
    torch.manual_seed(1)
    x = torch.randn(256, 10, dtype=torch.float64)
    guide = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 8)).double().requires_grad_(False)
    target = torch.nn.Sequential(torch.nn.Linear(10, 12), torch.nn.Tanh(),
                                 torch.nn.Linear(12, 8)).double()
    loss_fn = LayerwiseAlignmentLoss([("hidden", "hidden"), ("out", "out")], weights=[1, 1])

    def acts(net, inp):
        hidden = net[1](net[0](inp))
        return {"hidden": hidden, "out": net[2](hidden)}

    guide_acts = acts(guide, x)
    first = _value(loss_fn(acts(target, x), guide_acts))
    opt = torch.optim.Adam(target.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        loss = loss_fn(acts(target, x), guide_acts)
        loss.backward()
        opt.step()
    assert _value(loss) < 0.25 * first, (first, _value(loss))


def test_an_affine_transform_fitted_to_triplets_predicts_held_out_choices():
    """Choices sampled from a hidden embedding; a distorted copy is realigned by a gLocal
    transform (global odd-one-out term + local term + identity penalty)."""
    rng = np.random.default_rng(8)
    n, d = 40, 4
    truth = rng.standard_normal((n, d))
    model = truth @ np.diag([3.0, 0.3, 1.0, 0.2]) @ np.linalg.qr(rng.standard_normal((d, d)))[0]
    triplets = np.array([rng.choice(n, 3, replace=False) for _ in range(3000)])
    sims = np.stack([np.sum(truth[triplets[:, i]] * truth[triplets[:, j]], axis=1)
                     for i, j in ((1, 2), (0, 2), (0, 1))], axis=1)
    p = np.exp(sims - sims.max(axis=1, keepdims=True))
    choices = np.array([rng.choice(3, p=row / row.sum()) for row in p])
    train, test = slice(0, 2500), slice(2500, 3000)
    X = torch.tensor(model)
    W = torch.eye(d, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    loss_fn = OddOneOutLoss(local_weight=0.1)
    before = repalign.triplet_accuracy(model, triplets[test], choices[test])
    opt = torch.optim.Adam([W, b], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        E = X @ W + b
        loss = loss_fn(E, triplets[train], choices[train], original=X) + 1e-3 * glocal_penalty(W)
        loss.backward()
        opt.step()
    after = repalign.triplet_accuracy((X @ W + b).detach().numpy(), triplets[test],
                                      choices[test])
    best = repalign.triplet_accuracy(truth, triplets[test], choices[test])
    assert after > before + 0.05 and after > best - 0.05, (before, after, best)
