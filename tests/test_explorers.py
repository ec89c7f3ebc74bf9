"""Tests of the kernel-free explorers: frames, slider links and limits."""

import base64
import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets
import numpy as np
import pytest

import mpdln_lib as mp


def _render(a, b):
    fig, ax = mp.new_figure(width=2, height=1.5)
    x = np.linspace(0, 1, 20)
    ax.plot(x, a * x**b)
    return fig


def _alt(a, b):
    return f"curve {a} x^{b}"


def _stacks(widget):
    found = []
    if isinstance(widget, widgets.Stack):
        found.append(widget)
    for child in getattr(widget, "children", ()):
        found.extend(_stacks(child))
    return found


def _leaves(widget):
    if isinstance(widget, widgets.HTML):
        return [widget]
    return [leaf for child in getattr(widget, "children", ()) for leaf in _leaves(child)]


def test_frame_count_is_grid_size():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0, 3.0], "b": [1, 2]}, alt=_alt)
    assert explorer.frames == 6
    assert len(_leaves(explorer.children[1])) == 6


def test_frames_png_alt_in_order():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [1, 3]}, alt=_alt)
    leaves = _leaves(explorer.children[1])
    alts = [re.search(r'alt="([^"]*)"', leaf.value).group(1) for leaf in leaves]
    assert alts == [_alt(**values) for values in mp.frame_values({"a": [1.0, 2.0], "b": [1, 3]})]
    payload = re.search(r"base64,([A-Za-z0-9+/=]+)", leaves[0].value).group(1)
    assert base64.b64decode(payload)[:8] == b"\x89PNG\r\n\x1a\n"


def test_frames_differ_between_values():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 3.0], "b": [1]}, alt=_alt)
    first, second = (leaf.value for leaf in _leaves(explorer.children[1]))
    assert first != second


def test_every_stack_linked_to_its_slider():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0, 3.0], "b": [1, 2]}, alt=_alt)
    stacks = _stacks(explorer)
    assert len(stacks) == 1 + 3  # one stack over a, one per value of a over b
    linked = {(id(link.source[0]), link.source[1], id(link.target[0]), link.target[1]) for link in explorer.links}
    for stack in stacks:
        slider = explorer.sliders["a"] if len(stack.children) == 3 else explorer.sliders["b"]
        assert (id(slider), "index", id(stack), "selected_index") in linked


def test_slider_labels_show_values():
    explorer = mp.frame_explorer(_render, {"a": [0.5, 1.25], "b": [2]}, alt=_alt, labels={"a": "amplitude"})
    slider = explorer.sliders["a"]
    assert slider.description == "amplitude"
    assert [label for label, _ in slider.options] == ["0.5", "1.25"]


def test_empty_control_rejected():
    with pytest.raises(ValueError, match="'b'"):
        mp.frame_explorer(_render, {"a": [1.0], "b": []}, alt=_alt)


def test_no_controls_rejected():
    with pytest.raises(ValueError, match="at least one control"):
        mp.frame_explorer(_render, {}, alt=_alt)


def test_too_many_frames_rejected():
    controls = {"a": list(np.linspace(0, 1, 20)), "b": list(range(13))}
    with pytest.raises(ValueError, match="260 frames"):
        mp.frame_explorer(_render, controls, alt=_alt)


def test_alt_text_quotes_escaped():
    html = mp.figure_to_html(_render(1.0, 1), alt='a "quoted" word')
    assert 'alt="a &quot;quoted&quot; word"' in html


def test_live_panel_rerenders_any_value():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [1, 2]}, alt=_alt, live={"a": (0.5, 4.0)})
    panel = explorer.live_panel
    first = panel.output.value
    panel.sliders["a"].value = 3.3
    assert panel.renders == 2
    assert panel.output.value != first
    assert 'alt="curve 3.3 x^1"' in panel.output.value


def test_live_panel_keeps_listed_values_for_others():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [1, 2]}, alt=_alt, live={"a": (0.5, 4.0)})
    slider = explorer.live_panel.sliders["b"]
    assert isinstance(slider, widgets.SelectionSlider)
    slider.value = 2
    assert explorer.live_panel.values() == {"a": 1.0, "b": 2}


def test_live_panel_hidden_class():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [1]}, alt=_alt, live={"a": (0.5, 4.0)})
    assert mp.LIVE_CLASS in explorer.live_panel.box._dom_classes
    assert explorer.children[-1] is explorer.live_panel.box


def test_no_live_panel_by_default():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [1]}, alt=_alt)
    assert explorer.live_panel is None
    assert len(explorer.children) == 2


def test_live_range_unknown_control_rejected():
    with pytest.raises(ValueError, match="'c'"):
        mp.frame_explorer(_render, {"a": [1.0], "b": [1]}, alt=_alt, live={"c": (0.0, 1.0)})


def test_live_range_empty_rejected():
    with pytest.raises(ValueError, match=r"\(2\.0, 1\.0\)"):
        mp.frame_explorer(_render, {"a": [1.0], "b": [1]}, alt=_alt, live={"a": (2.0, 1.0)})


def test_single_value_control_is_fixed_label():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [3]}, alt=_alt, labels={"b": "power"})
    assert list(explorer.sliders) == ["a"]
    labels = [w.value for w in explorer.children[0].children if isinstance(w, widgets.HTML)]
    assert labels == ["power: 3"]
    assert len(explorer.links) == 1
    alts = [re.search(r'alt="([^"]*)"', leaf.value).group(1) for leaf in _leaves(explorer.children[1])]
    assert alts == ["curve 1.0 x^3", "curve 2.0 x^3"]


def test_single_value_control_still_live():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [3]}, alt=_alt, live={"b": (1.0, 4.0)})
    assert isinstance(explorer.live_panel.sliders["b"], widgets.FloatSlider)


def test_live_panel_fixed_control_has_no_slider():
    explorer = mp.frame_explorer(_render, {"a": [1.0, 2.0], "b": [3]}, alt=_alt, live={"a": (0.5, 4.0)})
    panel = explorer.live_panel
    assert list(panel.sliders) == ["a"]
    assert panel.values() == {"b": 3, "a": 1.0}
