"""The model map: classical multidimensional scaling of representation distances."""

from __future__ import annotations

import numpy as np

from ._common import _select, as_frame, measure_matrix, new_figure

__all__ = ["classical_mds", "model_map"]


def classical_mds(distances, n_components=2):
    """Classical (Torgerson) multidimensional scaling.

    Parameters
    ----------
    distances : array of shape (n, n)
        Symmetric, non-negative, finite distances with a zero diagonal.
    n_components : int, default=2
        Dimensions of the embedding, between 1 and n.

    Returns
    -------
    ndarray of shape (n, n_components)
        Centred coordinates whose Euclidean distances reproduce ``distances``
        exactly when they are Euclidean of dimension <= ``n_components`` (up to
        rotation and reflection). Axes come in order of decreasing eigenvalue;
        negative eigenvalues (non-Euclidean distances) give zero coordinates.

    Notes
    -----
    With :math:`J = I - \\tfrac{1}{n}\\mathbf{1}\\mathbf{1}^\\top`, the doubly
    centred Gram matrix :math:`B = -\\tfrac12 J D^{\\circ 2} J` has the
    eigendecomposition :math:`B = V \\Lambda V^\\top`; the coordinates are
    :math:`V_k \\Lambda_k^{1/2}` for the ``k`` largest eigenvalues.

    References
    ----------
    Torgerson (1952). Multidimensional scaling: I. Theory and method.
    Psychometrika 17:401-419. Borg & Groenen (2005). Modern Multidimensional
    Scaling, 2nd ed., Springer, chapter 12.

    Examples
    --------
    >>> import numpy as np
    >>> from repalign.viz import classical_mds
    >>> D = np.abs(np.subtract.outer([0.0, 1.0, 3.0], [0.0, 1.0, 3.0]))
    >>> np.round(np.abs(classical_mds(D, 1)).ravel(), 6).tolist()
    [1.333333, 0.333333, 1.666667]
    """
    D = np.asarray(distances, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"distances must be a square matrix; got shape {D.shape}")
    if not np.all(np.isfinite(D)):
        raise ValueError("distances must be finite; got NaN or inf (a pair without a result?)")
    if not np.allclose(D, D.T) or np.any(D < 0) or np.any(np.diag(D) != 0):
        raise ValueError("distances must be symmetric and non-negative with a zero diagonal")
    n = D.shape[0]
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) \
            or not 1 <= n_components <= n:
        raise ValueError(f"n_components must be an integer between 1 and {n}; "
                         f"got {n_components!r}")
    squared = D ** 2
    centred = squared - squared.mean(axis=0) - squared.mean(axis=1)[:, None] + squared.mean()
    eigenvalues, eigenvectors = np.linalg.eigh(-0.5 * centred)
    order = np.argsort(eigenvalues)[::-1][:n_components]
    return eigenvectors[:, order] * np.sqrt(np.clip(eigenvalues[order], 0.0, None))


def model_map(results, measure, *, params=None, names=None):
    """MDS map of representations from one measure's pairwise results.

    Parameters
    ----------
    results : pandas.DataFrame, ResultStore or path of a results.db
        Result rows holding every pair of ``names``.
    measure : str
        The measure whose values give the distances.
    params : dict, optional
        Which parameters, when the measure was run with several settings.
    names : sequence of str, optional
        The representations to place; default: all.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with a labelled point per representation, coloured by model
        (the part of the name before ``/``).

    Raises
    ------
    ValueError
        If the measure is a similarity without a finite upper bound (its
        values cannot be turned into distances), or a pair is missing.

    Notes
    -----
    The rows say how to read the values: a distance is used as it is; a
    similarity ``s`` with the upper bound ``top`` (its value for identical
    representations, 1 for CKA) gives the distance ``top - s``.
    """
    frame = _select(as_frame(results), measure, params)
    kind, top = frame["kind"].iloc[0], float(frame["bound_high"].iloc[0])
    if kind == "similarity" and not np.isfinite(top):
        raise ValueError(f"{measure} is a similarity without an upper bound; its values "
                         "cannot be read as distances for a model map")
    rows, _, values = measure_matrix(frame, measure, rows=names, columns=names)
    distances = top - values if kind == "similarity" else values
    np.fill_diagonal(distances, 0.0)
    distances = np.clip((distances + distances.T) / 2, 0.0, None)
    points = classical_mds(distances, 2)
    models = [name.split("/", 1)[0] for name in rows]
    colours = {model: f"C{i % 10}" for i, model in enumerate(dict.fromkeys(models))}
    figure = new_figure((6.0, 5.0))
    ax = figure.add_subplot()
    for model, colour in colours.items():
        mine = [i for i, m in enumerate(models) if m == model]
        ax.scatter(points[mine, 0], points[mine, 1], color=colour, label=model)
    for name, (x, y) in zip(rows, points):
        ax.annotate(name, (x, y), fontsize="x-small", xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("MDS 1")
    ax.set_ylabel("MDS 2")
    ax.set_title(f"model map ({measure}, "
                 f"{f'{top:g} - value' if kind == 'similarity' else 'value'})")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize="small")
    return figure
