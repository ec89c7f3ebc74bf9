"""Tests of the book's figure style and shared figure builders."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest

import mpdln_lib as mp


def _relative_luminance(color: str) -> float:
    r, g, b = mcolors.to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_palette_colours_distinct():
    assert len(set(mp.PALETTE)) == len(mp.PALETTE)


def test_pathway_colour_stable_and_cyclic():
    assert mp.pathway_color(0) == mp.PALETTE[0]
    assert mp.pathway_color(3) == mp.PALETTE[3]
    assert mp.pathway_color(len(mp.PALETTE)) == mp.PALETTE[0]


def test_first_pathway_colours_differ_in_lightness():
    # Pathways 1 and 2 appear in every two-pathway figure; a reader who sees no
    # hue must still tell them apart by lightness.
    difference = abs(_relative_luminance(mp.pathway_color(0)) - _relative_luminance(mp.pathway_color(1)))
    assert difference > 0.05


def test_new_figure_white_background():
    fig, ax = mp.new_figure()
    assert mcolors.to_hex(fig.get_facecolor()) == "#ffffff"
    assert mcolors.to_hex(ax.get_facecolor()) == "#ffffff"
    plt.close(fig)


def test_plot_pathways_colours_and_labels():
    fig, ax = mp.new_figure()
    values = np.column_stack([np.linspace(0, 1, 5), np.linspace(1, 0, 5), np.ones(5)])
    mp.plot_pathways(ax, np.arange(5), values)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["pathway 1", "pathway 2", "pathway 3"]
    assert [mcolors.to_hex(line.get_color()) for line in lines] == [c.lower() for c in mp.PALETTE[:3]]
    np.testing.assert_array_equal(lines[1].get_ydata(), values[:, 1])
    plt.close(fig)


def test_mark_divergence_draws_line_and_caption():
    fig, ax = mp.new_figure()
    ax.plot([0, 10], [0, 1])
    mp.mark_divergence(ax, 7)
    assert any(np.allclose(line.get_xdata(), [7, 7]) for line in ax.get_lines())
    assert [t.get_text() for t in ax.texts] == ["diverged at step 7"]
    plt.close(fig)


@pytest.mark.parametrize("step", [-1, -5])
def test_mark_divergence_no_op_without_divergence(step):
    fig, ax = mp.new_figure()
    mp.mark_divergence(ax, step)
    assert len(ax.get_lines()) == 0
    assert len(ax.texts) == 0
    plt.close(fig)


def test_mark_divergence_shades_after_step():
    fig, ax = mp.new_figure()
    ax.plot([0, 50], [1, 1])
    mp.mark_divergence(ax, 27)
    shaded = [patch for patch in ax.patches if patch.get_x() == 27]
    assert len(shaded) == 1
    assert ax.get_xlim()[1] >= 50
    plt.close(fig)
