"""The book's figure style and the figure builders shared by its chapters.

One palette for the whole book: the Okabe-Ito colours, which stay distinct
under the common forms of colour blindness. Pathway ``k`` is always drawn in
``pathway_color(k)``. Closed forms are black dashed lines over the
simulation, and the 2/eta stability line is grey and dotted. Figures have a white
background so they stay readable in the site's dark mode.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
"""Okabe-Ito colours; pathway ``k`` uses entry ``k mod 8``."""

THEORY_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.2}
"""Line style of closed-form curves drawn over simulations."""

THRESHOLD_STYLE = {"color": "0.45", "linestyle": ":", "linewidth": 1.4}
"""Line style of stability thresholds such as ``2 / eta``."""


def pathway_color(k: int) -> str:
    """Return the colour of pathway ``k`` (0-based)."""
    return PALETTE[k % len(PALETTE)]


def use_book_style() -> None:
    """Set matplotlib's defaults to the book's style (white background, palette, sizes)."""
    mpl.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "figure.figsize": (6.4, 3.8),
            "figure.dpi": 100,
            "axes.prop_cycle": mpl.cycler(color=PALETTE),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "legend.frameon": False,
            "lines.linewidth": 1.8,
        }
    )


def mark_divergence(ax: Axes, diverged_step: int, label: bool = True) -> None:
    """Mark the step at which a run diverged: a red line, shading after it, and a caption.

    Does nothing when ``diverged_step < 0``.
    """
    step = int(diverged_step)
    if step < 0:
        return
    right = max(ax.get_xlim()[1], step + 1)
    ax.axvline(step, color="#D55E00", linewidth=1.0)
    # Shade everything after the divergence so that a run that diverged
    # early reads as "diverged here", not as an empty plot.
    ax.axvspan(step, right, color="#D55E00", alpha=0.08, linewidth=0)
    ax.set_xlim(right=right)
    if label:
        ax.annotate(
            f"diverged at step {step}",
            xy=(step, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-4, -4),
            textcoords="offset points",
            ha="right",
            va="top",
            color="#D55E00",
        )


def plot_pathways(
    ax: Axes,
    x: np.ndarray,
    values: np.ndarray,
    labels: Sequence[str] | None = None,
    **kwargs,
) -> None:
    """Draw one line per pathway in its colour.

    Args:
        ax: The axes.
        x: Horizontal coordinates, shape ``(T,)``.
        values: Shape ``(T, K)``.
        labels: Legend label per pathway; default ``"pathway k"`` (1-based).
        **kwargs: Passed to ``ax.plot``.
    """
    values = np.asarray(values)
    for k in range(values.shape[1]):
        label = labels[k] if labels is not None else f"pathway {k + 1}"
        ax.plot(x, values[:, k], color=pathway_color(k), label=label, **kwargs)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.8, **kwargs):
    """Create a figure in the book's style; returns ``(fig, axes)`` as ``plt.subplots`` does."""
    use_book_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), constrained_layout=True, **kwargs)
