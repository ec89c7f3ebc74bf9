"""Interactive explorers that keep working on the static website.

An explorer renders one figure for every combination of its controls' values
ahead of time and stacks them. Each control is linked to its stack in the
browser (``ipywidgets.jslink``), so moving a slider changes the figure with no
kernel behind the page: the links live in the widget state that the book
embeds when it executes the notebook. In a live kernel the same explorer
works the same way, because the links run in the front end.
"""

from __future__ import annotations

import base64
import io
import itertools
from typing import Callable, Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

MAX_FRAMES = 240
"""Largest number of pre-rendered frames one explorer may hold (page size grows with it)."""


def figure_to_html(fig: Figure, alt: str, dpi: int = 80) -> str:
    """Encode a figure as an ``<img>`` tag with a PNG data URI and alt text, and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = alt.replace('"', "&quot;")
    return f'<img src="data:image/png;base64,{data}" alt="{alt}" style="max-width:100%;background:white">'


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def frame_explorer(
    render: Callable[..., Figure],
    controls: Mapping[str, Sequence],
    alt: Callable[..., str],
    labels: Mapping[str, str] | None = None,
) -> widgets.VBox:
    """Build an explorer from pre-rendered frames, one per combination of control values.

    Args:
        render: ``render(**values) -> Figure`` for one combination of control
            values (keyword per control).
        controls: Control name -> the values it steps through (at least one each).
        alt: ``alt(**values) -> str``, the alt text of that frame's figure.
        labels: Control name -> slider label; default the control name.

    Returns:
        A ``VBox`` of the sliders above the stacked frames. Its attributes:
        ``sliders`` maps control names to their sliders, ``links`` lists the
        slider-to-stack links and ``frames`` counts the frames.

    Raises:
        ValueError: If a control has no values or the frames would exceed ``MAX_FRAMES``.
    """
    names = list(controls)
    if not names:
        raise ValueError("controls must name at least one control, got none")
    for name in names:
        if len(controls[name]) == 0:
            raise ValueError(f"control {name!r} must have at least one value, got none")
    count = 1
    for name in names:
        count *= len(controls[name])
    if count > MAX_FRAMES:
        sizes = {name: len(controls[name]) for name in names}
        raise ValueError(f"the explorer would need {count} frames (sizes {sizes}); the limit is {MAX_FRAMES}")

    labels = dict(labels or {})
    sliders = {
        name: widgets.SelectionSlider(
            options=[(_format_value(v), i) for i, v in enumerate(controls[name])],
            value=0,
            description=labels.get(name, name),
            continuous_update=True,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="420px"),
        )
        for name in names
    }

    links: list[widgets.Widget] = []

    def build(level: int, chosen: dict) -> widgets.Widget:
        if level == len(names):
            return widgets.HTML(figure_to_html(render(**chosen), alt(**chosen)))
        name = names[level]
        children = [build(level + 1, {**chosen, name: value}) for value in controls[name]]
        stack = widgets.Stack(children, selected_index=0)
        links.append(widgets.jslink((sliders[name], "index"), (stack, "selected_index")))
        return stack

    frames = build(0, {})
    box = widgets.VBox([widgets.VBox(list(sliders.values())), frames])
    box.sliders = sliders
    box.frames = count
    box.links = links
    return box


def frame_values(controls: Mapping[str, Sequence]) -> list[dict]:
    """List every combination of control values, in the order the frames are built."""
    names = list(controls)
    return [dict(zip(names, combo)) for combo in itertools.product(*(controls[n] for n in names))]
