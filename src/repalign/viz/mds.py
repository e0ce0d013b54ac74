"""The model map: classical multidimensional scaling of representation distances."""

from __future__ import annotations

import numpy as np

from ._common import _select, as_frame, describe_rows, new_figure, shown_matrix

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


def model_map(results, measure, *, params=None, names=None, n_stimuli=None):
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
    n_stimuli : int, optional
        Which stimulus set (the rows' ``n_stimuli``), when the representations
        were compared on several; they are never mixed in one map.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with a point per representation, coloured by model (the part
        of the name before ``/``, named in the legend), the layers of each
        model joined in order by a thin line, and labels (the layer, the part
        after ``/``) placed where they overlap neither each other nor the
        points; a point without room for its label is left unlabelled
        (``figure.repalign_labels`` maps each labelled name to its text).
        ``figure.repalign_caption`` describes it in sentences.

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
    rows, _, values, shown = shown_matrix(frame, measure, rows=names, columns=names,
                                          n_stimuli=n_stimuli)
    distances = top - values if kind == "similarity" else values
    np.fill_diagonal(distances, 0.0)
    distances = np.clip((distances + distances.T) / 2, 0.0, None)
    points = classical_mds(distances, 2)
    models = [name.split("/", 1)[0] for name in rows]
    colours = {model: f"C{i % 10}" for i, model in enumerate(dict.fromkeys(models))}
    span = np.ptp(points, axis=0) + 1e-12
    # as tall as the map needs (its axes have equal scales), with room for labels
    figure = new_figure((7.0, float(np.clip(1.8 + 4.6 * span[1] / span[0], 3.6, 6.5))))
    ax = figure.add_subplot()
    for model, colour in colours.items():
        mine = [i for i, m in enumerate(models) if m == model]
        if len(mine) > 1:
            ax.plot(points[mine, 0], points[mine, 1], color=colour, alpha=0.35, linewidth=1,
                    zorder=1)
        ax.scatter(points[mine, 0], points[mine, 1], color=colour, label=model, s=30,
                   edgecolors="white", linewidths=0.5, zorder=2)
    ax.set_xlabel("MDS 1")
    ax.set_ylabel("MDS 2")
    reading = f"{top:g} - value" if kind == "similarity" else "value"
    ax.set_title(f"model map ({measure}, distance = {reading})")
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.12)
    ax.legend(title="model", fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0)
    texts = [name.split("/", 1)[1] if "/" in name else name for name in rows]
    figure.repalign_labels = place_labels(ax, points, texts, names=rows,
                                          colours=[colours[m] for m in models])
    unlabelled = len(rows) - len(figure.repalign_labels)
    figure.repalign_caption = " ".join([
        describe_rows(shown, what=f"model map of {len(rows)} representations"),
        f"Classical MDS of the distances {reading}: nearby points are alike. Colour: the "
        f"model; thin lines join each model's layers in order; labels name the layer."
        + (f" {unlabelled} of {len(rows)} points had no room for a label." if unlabelled
           else ""),
    ])
    figure.repalign_panel = "map"
    return figure


#: Where a label may go around its point: offsets in points, tried in order,
#: each with the alignment that keeps the text on that side of the point.
_OFFSETS = [(dx * r, dy * r) for r in (1.0, 2.5, 4.5, 7.0, 10.0)
            for dx, dy in ((4, 3), (4, -3), (-4, 3), (-4, -3), (5, 0), (-5, 0), (0, 5),
                           (0, -5))]


def place_labels(ax, points, texts, *, names=None, colours=None, fontsize=7.5):
    """Label ``points`` of ``ax`` so that no two labels, and no label and point, overlap.

    Points with the same text closer than 6 points to each other share one
    label. Each label tries the positions of :data:`_OFFSETS` around its point
    (near ones first; a far one gets a thin leader line) and takes the first
    that overlaps no label placed before it, no point (its own group's points
    only at their edge) and nothing outside the axes. A label with no such position is left out.

    Returns
    -------
    dict
        The labelled names (``names``, default ``texts``) and their texts.
    """
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    names = list(texts) if names is None else list(names)
    points = np.asarray(points, dtype=float)
    figure = ax.figure
    figure.canvas.draw()  # settle the layout and the equal-aspect limits first
    renderer = figure.canvas.get_renderer()
    ax.set_xlim(*ax.get_xlim())
    ax.set_ylim(*ax.get_ylim())
    box = ax.get_window_extent(renderer)
    centres = ax.transData.transform(points)
    pt = figure.dpi / 72
    radius = 3.5 * pt
    taken = [Bbox.from_bounds(x - radius, y - radius, 2 * radius, 2 * radius)
             for x, y in centres]
    groups = []  # (indices sharing a label)
    for i, text in enumerate(texts):
        for group in groups:
            if (texts[group[0]] == text
                    and np.hypot(*(centres[group] - centres[i]).T).max() < 6 * pt):
                group.append(i)
                break
        else:
            groups.append([i])
    # crowded points first: they have the fewest free positions
    crowding = [np.sum(np.hypot(*(centres - centres[g].mean(0)).T) < 40 * pt) for g in groups]
    placed = {}
    for k in np.argsort(crowding, kind="stable")[::-1]:
        group = groups[k]
        anchor, text = points[group].mean(0), texts[group[0]]
        for dx, dy in _OFFSETS:
            far = abs(dx) > 5 or abs(dy) > 5
            label = ax.annotate(
                text, anchor, xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                ha="left" if dx > 0 else "right" if dx < 0 else "center",
                va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                color="0.15", annotation_clip=False,
                arrowprops=dict(arrowstyle="-", color=colours[group[0]] if colours else "0.5",
                                linewidth=0.6, shrinkA=0, shrinkB=3) if far else None)
            label.set_in_layout(False)
            label.update_positions(renderer)
            extent = Text.get_window_extent(label, renderer).padded(pt)  # not the line
            inside = (extent.x0 >= box.x0 and extent.x1 <= box.x1 and extent.y0 >= box.y0
                      and extent.y1 <= box.y1)
            covers = any(extent.x0 < cx < extent.x1 and extent.y0 < cy < extent.y1
                         for cx, cy in centres)
            if inside and not covers and not any(
                    extent.overlaps(other) for j, other in enumerate(taken) if j not in group):
                taken.append(extent)
                placed.update({names[i]: text for i in group})
                break
            label.remove()
    return {name: placed[name] for name in names if name in placed}
