"""RDM plots with category colour bars."""

from __future__ import annotations

import numpy as np

from ._common import colour_label, colour_map, new_figure

__all__ = ["rdm_plot"]


def rdm_plot(rdm, categories=None, *, title=None, label="dissimilarity"):
    """Plot a representational dissimilarity matrix with category colour bars.

    Parameters
    ----------
    rdm : array of shape (n, n)
        The dissimilarities (e.g. ``repalign.datasets.kriegeskorte92().monkey_it``).
    categories : sequence of str of length n, optional
        Each stimulus's category (e.g. ``kriegeskorte92().category``): drawn
        as a colour bar along the top and the left of the matrix, one colour
        per category in order of first appearance, with a legend.
    title : str, optional
    label : str, default="dissimilarity"
        The colour bar's label (the direction is added to it).

    Returns
    -------
    matplotlib.figure.Figure
        The RDM image axes (its array is ``rdm``), the two category bars (their
        arrays hold each stimulus's category index) when ``categories`` is
        given, and the colour bar. Drawn in the distances' colour map
        (bright = alike, as :func:`~repalign.viz.model_matrix` draws distances),
        spanning the off-diagonal values (the zero diagonal is drawn at the
        bright end);
        ``figure.repalign_caption`` describes it in sentences.

    References
    ----------
    Kriegeskorte, Mur & Bandettini (2008). Representational similarity
    analysis - connecting the branches of systems neuroscience. Front. Syst.
    Neurosci. 2:4.
    """
    matrix = np.asarray(rdm, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"rdm must be a square matrix; got shape {matrix.shape}")
    n = matrix.shape[0]
    figure = new_figure((6.5, 5.5))
    if categories is None:
        ax = figure.add_subplot()
    else:
        categories = list(categories)
        if len(categories) != n:
            raise ValueError(f"categories has {len(categories)} labels but rdm has {n} "
                             "stimuli; give one category per row")
        grid = figure.add_gridspec(2, 2, width_ratios=(1, 30), height_ratios=(1, 30),
                                   wspace=0.01, hspace=0.01)
        ax = figure.add_subplot(grid[1, 1])
        names = list(dict.fromkeys(categories))
        index = np.array([names.index(c) for c in categories], dtype=float)
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        cmap = ListedColormap([f"C{i % 10}" for i in range(len(names))])
        style = dict(cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, aspect="auto",
                     interpolation="nearest")
        top = figure.add_subplot(grid[0, 1], sharex=ax)
        top.imshow(index[None, :], **style)
        left = figure.add_subplot(grid[1, 0], sharey=ax)
        left.imshow(index[:, None], **style)
        for bar in (top, left):
            bar.set_axis_off()
        figure.legend(handles=[Patch(color=cmap(i), label=name) for i, name in enumerate(names)],
                      loc="outside lower center", ncols=min(3, len(names)), fontsize="small")
    off_diagonal = matrix[~np.eye(n, dtype=bool)]
    finite = off_diagonal[np.isfinite(off_diagonal)]
    # the colours span the dissimilarities between different stimuli: the zero
    # diagonal (a stimulus with itself) would otherwise squeeze them together
    low, high = (finite.min(), finite.max()) if finite.size else (None, None)
    image = ax.imshow(matrix, cmap=colour_map("distance"), interpolation="nearest",
                      aspect="auto", vmin=low, vmax=high if high != low else None)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("stimulus")
    figure.colorbar(image, ax=ax, label=colour_label(label, "distance"))
    if title:
        figure.suptitle(title)
    bars = ("" if categories is None else
            f" The bars along the top and the left give each stimulus's category "
            f"({len(names)} categories, in the legend).")
    figure.repalign_caption = (
        f"Representational dissimilarity matrix{f' of {title}' if title else ''} for {n} "
        f"stimuli: cell [i, j] is the {label} between the responses to stimuli i and j. "
        "Colour: brighter = lower dissimilarity = more alike, from the smallest to the "
        "largest dissimilarity between different stimuli." + bars)
    figure.repalign_panel = "rdm"
    return figure
