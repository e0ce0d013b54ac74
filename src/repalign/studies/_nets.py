"""Small networks and their training, shared by the studies and the main job.

Every network is a ``torch.nn.Sequential`` with named layers, so that
:func:`repalign.extract` can hook them by name. Training is seeded end to end:
the same seed gives the same weights on the same machine.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

__all__ = ["build_network", "digits_split", "mlp", "train"]


def digits_split(*, test_size: float = 0.25, seed: int = 0):
    """scikit-learn's bundled 8x8 digits scaled to [0, 1], split with stratification.

    Returns
    -------
    X_train, X_test : ndarray of float32, shape (n, 64)
    y_train, y_test : ndarray of int
    """
    from sklearn.model_selection import train_test_split

    from .. import datasets

    data = datasets.digits()
    X = (data.data / 16.0).astype(np.float32)
    return train_test_split(X, data.target, test_size=test_size, random_state=seed,
                            stratify=data.target)


def mlp(sizes, *, activation: str = "relu", bias: bool = True):
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]``.

    Layers are named ``fc1, act1, fc2, act2, ..., out``; ``activation`` is
    ``"relu"``, ``"tanh"`` or ``"linear"`` (no nonlinearity).
    """
    from torch import nn

    nonlinearity = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": None}
    if activation not in nonlinearity:
        raise ValueError(f"activation must be one of {sorted(nonlinearity)}; got {activation!r}")
    layers = OrderedDict()
    for i, (a, b) in enumerate(zip(sizes[:-2], sizes[1:-1]), start=1):
        layers[f"fc{i}"] = nn.Linear(a, b, bias=bias)
        if nonlinearity[activation] is not None:
            layers[f"act{i}"] = nonlinearity[activation]()
    layers["out"] = nn.Linear(sizes[-2], sizes[-1], bias=bias)
    return nn.Sequential(layers)


def build_network(arch: str, width: int):
    """A small digits classifier with named layers: ``mlp`` or ``cnn``."""
    from torch import nn

    if arch == "mlp":
        return nn.Sequential(OrderedDict(
            fc1=nn.Linear(64, width), relu1=nn.ReLU(),
            fc2=nn.Linear(width, width), relu2=nn.ReLU(),
            out=nn.Linear(width, 10)))
    if arch != "cnn":
        raise ValueError(f"arch must be 'mlp' or 'cnn'; got {arch!r}")
    return nn.Sequential(OrderedDict(
        unflatten=nn.Unflatten(1, (1, 8, 8)),
        conv1=nn.Conv2d(1, width // 4, 3, padding=1), relu1=nn.ReLU(),
        conv2=nn.Conv2d(width // 4, width // 2, 3, padding=1, stride=2), relu2=nn.ReLU(),
        flatten=nn.Flatten(), fc=nn.Linear(width // 2 * 16, width), relu3=nn.ReLU(),
        out=nn.Linear(width, 10)))


def train(model, X, y, *, seed: int, epochs: int, lr: float = 3e-3, batch_size: int = 64,
          loss: str = "cross_entropy", weight_decay: float = 0.0):
    """Adam on shuffled mini-batches; returns the model in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
    X : array, shape (n, ...)
    y : array
        Class indices for ``loss="cross_entropy"``, targets for ``loss="mse"``.
    seed : int
        Seeds the batch order (initialise the weights before calling).
    epochs : int
    lr, batch_size, weight_decay : float, int, float
    loss : {"cross_entropy", "mse"}
    """
    import torch
    import torch.nn.functional as F

    if loss not in ("cross_entropy", "mse"):
        raise ValueError(f"loss must be 'cross_entropy' or 'mse'; got {loss!r}")
    X = torch.as_tensor(X, dtype=torch.float32)
    y = (torch.as_tensor(y, dtype=torch.long) if loss == "cross_entropy"
         else torch.as_tensor(y, dtype=torch.float32))
    criterion = F.cross_entropy if loss == "cross_entropy" else F.mse_loss
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=gen).split(batch_size):
            opt.zero_grad()
            criterion(model(X[idx]), y[idx]).backward()
            opt.step()
    return model.eval()
