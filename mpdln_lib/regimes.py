"""Regimes of finished gradient-descent runs and the phases of one run.

A run of large-step gradient descent on one mode (target value ``y``) ends in
one of a few regimes, which :func:`classify_runs` reads from a
:class:`~mpdln_lib.dynamics.Trajectory`:

- single-path: converged with one pathway carrying (almost) all of ``y``;
- re-balanced: converged with the signal spread over several pathways;
- oscillating: learned the signal but has not converged by the last step;
- collapsed: an overshoot knocked the weights to near zero, so the output is
  near 0 and the loss is stuck near ``y^2 / 2``;
- diverged: the loss became non-finite or exceeded the run's threshold;
- not learned: still in the initial plateau (output near 0, weights not
  smaller than at the start); it means the run was too short.

:func:`locate_phases` finds the steps at which one run moves from the
gradient-flow-like phase to the edge of stability and on to convergence.
All step indices are record indices times the recording interval, so their
resolution is the run's ``record_every``.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import jax
import numpy as np

from . import _validation as check
from .dynamics import Trajectory


class Regime(enum.IntEnum):
    """Regime of a finished run; the integer codes fill the arrays of :func:`classify_runs`."""

    SINGLE_PATH = 0
    REBALANCED = 1
    OSCILLATING = 2
    COLLAPSED = 3
    DIVERGED = 4
    NOT_LEARNED = 5

    @property
    def label(self) -> str:
        """Name of the regime for legends and text, e.g. ``"re-balanced"``."""
        return _LABELS[self]


_LABELS = {
    Regime.SINGLE_PATH: "single-path",
    Regime.REBALANCED: "re-balanced",
    Regime.OSCILLATING: "still oscillating",
    Regime.COLLAPSED: "collapsed",
    Regime.DIVERGED: "diverged",
    Regime.NOT_LEARNED: "not learned",
}


class Phases(NamedTuple):
    """Steps at which one gradient-descent run changes phase (``None`` if it never does).

    Attributes:
        learned_step: First recorded step at which the output reached ``y / 2``;
            it ends the gradient-flow-like phase in which one pathway takes the lead.
        rise_start_step: First recorded step at which the sharpness reached
            ``rise_fraction * 2 / eta``.
        eos_onset_step: First recorded step at which the sharpness reached ``2 / eta``.
        eos_end_step: First recorded step after the onset from which the
            sharpness stays below ``2 / eta`` to the end of the run.
        converged_step: First recorded step from which the mode's loss stays at
            or below ``loss_tol * y^2 / 2`` to the end of the run.
        diverged_step: Step at which the run diverged.
    """

    learned_step: int | None
    rise_start_step: int | None
    eos_onset_step: int | None
    eos_end_step: int | None
    converged_step: int | None
    diverged_step: int | None


def _check_trajectory(trajectory: Trajectory, mode: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the strengths of ``mode`` (shape ``(..., T, K)``) and the steps (shape ``(T,)``)."""
    if not isinstance(trajectory, Trajectory):
        raise ValueError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}")
    strengths = np.asarray(trajectory.strengths)
    if strengths.ndim < 3:
        raise ValueError(
            f"trajectory.strengths must have shape (..., T, K, d), got shape {strengths.shape}"
        )
    d = strengths.shape[-1]
    if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)) or not 0 <= mode < d:
        raise ValueError(f"mode must be an integer in [0, {d - 1}], got {mode!r}")
    steps = np.asarray(trajectory.steps)
    steps = steps.reshape(-1, steps.shape[-1])[0]
    if steps.size < 2:
        raise ValueError(f"trajectory must have at least 2 records, got {steps.size}")
    return strengths[..., int(mode)], steps


def _fraction(name: str, value: float) -> float:
    value = check.positive_finite(name, value)
    if value >= 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return value


def classify_runs(
    trajectory: Trajectory,
    y: float,
    *,
    mode: int = 0,
    loss_tol: float = 1e-6,
    single_path_share: float = 0.98,
    collapse_output: float = 0.05,
) -> np.ndarray:
    """Classify every run of a trajectory (one run or a sweep) into a :class:`Regime`.

    The rules, applied to the mode's strengths ``p_k`` and output ``f = sum_k p_k``:

    1. diverged if the run diverged;
    2. converged if the mode's loss ``(f - y)^2 / 2`` is at most
       ``loss_tol * y^2 / 2`` at each of the last two records; then
       single-path if the largest share ``|p_k| / sum_j |p_j|`` is at least
       ``single_path_share``, and re-balanced otherwise;
    3. if not converged and ``|f| < collapse_output * y`` at the last record:
       collapsed if the run's output reached ``y / 2`` at some record, its
       largest ``|p_k|`` ended below its starting value, or its balancedness
       gaps changed by at least ``0.01 y^(2/L)`` (``L`` the largest depth),
       otherwise not learned;
    4. otherwise oscillating (learned, but not converged by the last step).

    Args:
        trajectory: A run or a sweep; fields have leading sweep axes ``B``
            (any number), then ``T`` records; strengths ``(B..., T, K, d)``.
        y: The mode's target value (its singular value), positive.
        mode: The mode to classify, an index into ``d``.
        loss_tol: Convergence tolerance on the mode's loss, relative to ``y^2 / 2``.
        single_path_share: Share in ``(0, 1)`` above which one pathway counts as
            carrying the whole signal.
        collapse_output: Output, relative to ``y``, below which a run counts as
            knocked down (or not started).

    Returns:
        Integer :class:`Regime` codes, shape ``(B...)`` (shape ``()`` for one run).

    Raises:
        ValueError: If an argument is out of range or the trajectory has the wrong shape.
    """
    y = check.positive_finite("y", y)
    loss_tol = check.positive_finite("loss_tol", loss_tol)
    single_path_share = _fraction("single_path_share", single_path_share)
    collapse_output = _fraction("collapse_output", collapse_output)
    p, _ = _check_trajectory(trajectory, mode)

    output = p.sum(axis=-1)  # (B..., T)
    mode_loss = 0.5 * (output - y) ** 2
    diverged = np.asarray(trajectory.diverged_step) >= 0
    converged = np.all(mode_loss[..., -2:] <= loss_tol * 0.5 * y**2, axis=-1)

    magnitude = np.abs(p[..., -1, :])
    largest_share = magnitude.max(axis=-1) / np.maximum(magnitude.sum(axis=-1), np.finfo(float).tiny)
    single = largest_share >= single_path_share

    near_zero = np.abs(output[..., -1]) < collapse_output * y
    reached = np.nanmax(np.abs(output), axis=-1) >= 0.5 * y
    shrank = np.abs(p[..., -1, :]).max(axis=-1) < np.abs(p[..., 0, :]).max(axis=-1)
    # A run still in its plateau keeps its layers as balanced as at step 0; an
    # overshoot that the records missed shows up as a change of balancedness of
    # the order of a learned layer's square, y^(2/L).
    max_depth = max(np.shape(w)[-3] for w in trajectory.final_params)
    drift = np.nanmax(np.asarray(trajectory.balance_drift), axis=-1)
    disturbed = drift >= 0.01 * y ** (2.0 / max_depth)
    collapsed = near_zero & (reached | shrank | disturbed)

    codes = np.full(diverged.shape, int(Regime.OSCILLATING))
    codes = np.where(near_zero & ~collapsed, int(Regime.NOT_LEARNED), codes)
    codes = np.where(collapsed, int(Regime.COLLAPSED), codes)
    codes = np.where(converged & single, int(Regime.SINGLE_PATH), codes)
    codes = np.where(converged & ~single, int(Regime.REBALANCED), codes)
    return np.where(diverged, int(Regime.DIVERGED), codes)


def classify_run(trajectory: Trajectory, y: float, **options) -> Regime:
    """Classify one run; takes the options of :func:`classify_runs`.

    Raises:
        ValueError: If ``trajectory`` contains a sweep rather than one run, or an
            option is out of range.
    """
    _require_single_run(trajectory)
    return Regime(int(classify_runs(trajectory, y, **options)))


def _require_single_run(trajectory: Trajectory) -> None:
    if not isinstance(trajectory, Trajectory):
        raise ValueError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}")
    shape = np.shape(trajectory.loss)
    if len(shape) != 1:
        raise ValueError(
            f"trajectory must hold one run (loss of shape (T,)), got loss of shape {shape}; "
            "pick one run with select_run"
        )


def select_run(trajectory: Trajectory, *index: int) -> Trajectory:
    """Pick one run out of a sweep, e.g. ``select_run(sweep, i_eta, i_scale, i_seed)``.

    Args:
        trajectory: A sweep whose fields have leading axes ``(B_1, ..., B_n)``.
        *index: One integer per leading axis.

    Returns:
        The :class:`~mpdln_lib.dynamics.Trajectory` of that run (loss of shape ``(T,)``).

    Raises:
        ValueError: If the number of indices does not match the sweep's axes or
            an index is out of range.
    """
    sweep_shape = np.shape(trajectory.diverged_step)
    if len(index) != len(sweep_shape):
        raise ValueError(
            f"index must give one integer per sweep axis {sweep_shape}, got {len(index)} indices {index!r}"
        )
    for axis, (i, size) in enumerate(zip(index, sweep_shape)):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -size <= i < size:
            raise ValueError(f"index[{axis}] must be an integer in [{-size}, {size - 1}], got {i!r}")
    return jax.tree_util.tree_map(lambda field: field[tuple(index)], trajectory)


def _first(mask: np.ndarray, steps: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(steps[hits[0]]) if hits.size else None


def _start_of_final_run(mask: np.ndarray, steps: np.ndarray) -> int | None:
    """Return the step from which ``mask`` is true up to the last record, or ``None`` if it is false there."""
    if not mask[-1]:
        return None
    failures = np.flatnonzero(~mask)
    return int(steps[failures[-1] + 1]) if failures.size else int(steps[0])


def locate_phases(
    trajectory: Trajectory,
    eta: float,
    y: float,
    *,
    mode: int = 0,
    loss_tol: float = 1e-6,
    rise_fraction: float = 0.1,
) -> Phases:
    """Locate the phases of one gradient-descent run.

    Records after a divergence are NaN and count as failing every condition.
    The sharpness phases need a run recorded with ``track_sharpness=True``.

    Args:
        trajectory: One run (loss of shape ``(T,)``, strengths ``(T, K, d)``).
        eta: The run's step size, positive.
        y: The mode's target value, positive.
        mode: The mode whose output and loss are used, an index into ``d``.
        loss_tol: Convergence tolerance on the mode's loss, relative to ``y^2 / 2``.
        rise_fraction: Fraction in ``(0, 1)`` of ``2 / eta`` at which the
            sharpness counts as starting to rise.

    Returns:
        The :class:`Phases`.

    Raises:
        ValueError: If the trajectory contains a sweep or has no sharpness
            records, or an argument is out of range.
    """
    _require_single_run(trajectory)
    eta = check.positive_finite("eta", eta)
    y = check.positive_finite("y", y)
    loss_tol = check.positive_finite("loss_tol", loss_tol)
    rise_fraction = _fraction("rise_fraction", rise_fraction)
    p, steps = _check_trajectory(trajectory, mode)
    sharpness = np.asarray(trajectory.sharpness)
    if np.all(np.isnan(sharpness)):
        raise ValueError(
            "trajectory.sharpness is all NaN; run gradient descent with track_sharpness=True"
        )

    output = p.sum(axis=-1)
    threshold = 2.0 / eta
    with np.errstate(invalid="ignore"):
        learned = output >= 0.5 * y
        risen = sharpness >= rise_fraction * threshold
        unstable = sharpness >= threshold
        stable = sharpness < threshold
        converged = 0.5 * (output - y) ** 2 <= loss_tol * 0.5 * y**2

    onset = _first(unstable, steps)
    eos_end = None
    if onset is not None:
        after = steps >= onset
        eos_end = _start_of_final_run(stable[after], steps[after])
    diverged_step = int(trajectory.diverged_step)
    return Phases(
        learned_step=_first(learned, steps),
        rise_start_step=_first(risen, steps),
        eos_onset_step=onset,
        eos_end_step=eos_end,
        converged_step=_start_of_final_run(converged, steps),
        diverged_step=diverged_step if diverged_step >= 0 else None,
    )
