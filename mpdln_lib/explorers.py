"""Interactive explorers that keep working on the static website.

An explorer renders one figure for every combination of its controls' values
ahead of time and stacks them. Each control is linked to its stack in the
browser (``ipywidgets.jslink``), so moving a slider changes the figure with no
kernel behind the page: the links live in the widget state that the book
embeds when it executes the notebook. In a live kernel the same explorer
works the same way, because the links run in the front end.

An explorer can also carry a live panel: sliders over the full, continuous
range of some controls that call ``render`` again on every change. It needs a
kernel, so the book's stylesheet hides it on the static site (CSS class
``mpdln-live``). In JupyterLab, Binder or Colab it appears below the frames.
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


def _slider_layout() -> dict:
    """Return the keyword arguments that give every explorer slider the same look."""
    return {"style": {"description_width": "initial"}, "layout": widgets.Layout(width="420px")}


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


LIVE_CLASS = "mpdln-live"
"""CSS class of the live panel; the book's stylesheet hides it on the static site."""


def frame_explorer(
    render: Callable[..., Figure],
    controls: Mapping[str, Sequence],
    alt: Callable[..., str],
    labels: Mapping[str, str] | None = None,
    live: Mapping[str, tuple[float, float]] | None = None,
) -> widgets.VBox:
    """Build an explorer from pre-rendered frames, one per combination of control values.

    Args:
        render: ``render(**values) -> Figure`` for one combination of control
            values (keyword per control).
        controls: Control name -> the values it steps through (at least one each).
        alt: ``alt(**values) -> str``, the alt text of that frame's figure.
        labels: Control name -> slider label; default the control name.
        live: Control name -> ``(low, high)``: add a live panel whose sliders
            move continuously over these ranges (the other controls keep
            their listed values) and call ``render`` and ``alt`` again on
            every change. ``render`` must then accept any value in the range.

    Returns:
        A ``VBox`` of the sliders above the stacked frames, then the live
        panel if requested. Its attributes: ``sliders`` maps control names to
        their sliders, ``links`` lists the slider-to-stack links, ``frames``
        counts the frames, and ``live_panel`` is the :class:`LivePanel` or ``None``.

    Raises:
        ValueError: If a control has no values, the frames would exceed
            ``MAX_FRAMES``, or a live range is invalid or names an unknown control.
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
    # A control with one value gets a fixed label, not a slider: on the static
    # site a slider that cannot change the figure would look broken.
    sliders = {
        name: widgets.SelectionSlider(
            options=[(_format_value(v), i) for i, v in enumerate(controls[name])],
            value=0,
            description=labels.get(name, name),
            continuous_update=True,
            **_slider_layout(),
        )
        for name in names
        if len(controls[name]) > 1
    }
    fixed = [
        widgets.HTML(f"{labels.get(name, name)}: {_format_value(controls[name][0])}")
        for name in names
        if len(controls[name]) == 1
    ]

    links: list[widgets.Widget] = []

    def build(level: int, chosen: dict) -> widgets.Widget:
        if level == len(names):
            return widgets.HTML(figure_to_html(render(**chosen), alt(**chosen)))
        name = names[level]
        if name not in sliders:
            return build(level + 1, {**chosen, name: controls[name][0]})
        children = [build(level + 1, {**chosen, name: value}) for value in controls[name]]
        stack = widgets.Stack(children, selected_index=0)
        links.append(widgets.jslink((sliders[name], "index"), (stack, "selected_index")))
        return stack

    frames = build(0, {})
    children = [widgets.VBox(list(sliders.values()) + fixed), frames]
    panel = None
    if live:
        panel = LivePanel(render, controls, alt, labels, live)
        children.append(panel.box)
    box = widgets.VBox(children)
    box.sliders = sliders
    box.frames = count
    box.links = links
    box.live_panel = panel
    return box


class LivePanel:
    """Sliders over continuous ranges that re-render the figure in a running kernel.

    Attributes:
        sliders: Control name -> slider (``FloatSlider`` for live ranges,
            ``SelectionSlider`` over the listed values for the others, none
            for a control with a single listed value and no live range).
        output: The ``HTML`` widget holding the current figure.
        box: The panel, a ``VBox`` with CSS class ``LIVE_CLASS``.
        renders: How many figures the panel has drawn.
    """

    def __init__(
        self,
        render: Callable[..., Figure],
        controls: Mapping[str, Sequence],
        alt: Callable[..., str],
        labels: Mapping[str, str],
        live: Mapping[str, tuple[float, float]],
    ) -> None:
        for name, bounds in live.items():
            if name not in controls:
                raise ValueError(f"live range given for unknown control {name!r}; controls are {list(controls)}")
            low, high = (float(b) for b in bounds)
            if not low < high:
                raise ValueError(f"live range for {name!r} must have low < high, got {bounds!r}")
        self._render = render
        self._alt = alt
        self.renders = 0
        self.sliders: dict[str, widgets.Widget] = {}
        self._fixed: dict[str, object] = {}

        for name, values in controls.items():
            if name not in live and len(values) == 1:
                self._fixed[name] = values[0]
                continue
            slider = self._make_slider(labels.get(name, name), values, live.get(name))
            slider.observe(self._update, names="value")
            self.sliders[name] = slider

        self.output = widgets.HTML()
        heading = widgets.HTML("<b>Live (needs a running kernel):</b> any value in the range, recomputed on release.")
        self.box = widgets.VBox([heading, widgets.VBox(list(self.sliders.values())), self.output])
        self.box.add_class(LIVE_CLASS)
        self._update()

    @staticmethod
    def _make_slider(label: str, values: Sequence, bounds: tuple[float, float] | None) -> widgets.Widget:
        """Build a continuous slider over ``bounds``, or a slider over ``values`` when there are none."""
        if bounds is None:
            return widgets.SelectionSlider(
                options=[(_format_value(v), v) for v in values], value=values[0],
                description=label, continuous_update=False, **_slider_layout(),
            )
        low, high = (float(b) for b in bounds)
        start = min(max(float(values[0]), low), high)
        return widgets.FloatSlider(
            value=start, min=low, max=high, step=(high - low) / 200, readout_format=".4g",
            description=label, continuous_update=False, **_slider_layout(),
        )

    def values(self) -> dict:
        """Return the current value of every control."""
        return {**self._fixed, **{name: slider.value for name, slider in self.sliders.items()}}

    def _update(self, change=None) -> None:
        values = self.values()
        self.output.value = figure_to_html(self._render(**values), self._alt(**values))
        self.renders += 1


def frame_values(controls: Mapping[str, Sequence]) -> list[dict]:
    """List every combination of control values, in the order the frames are built."""
    names = list(controls)
    return [dict(zip(names, combo)) for combo in itertools.product(*(controls[n] for n in names))]
