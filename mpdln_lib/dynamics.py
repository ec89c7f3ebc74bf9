"""Training dynamics: gradient descent, gradient flow, sweeps and divergence detection.

Gradient descent runs as ``jax.lax.scan`` inside ``jax.jit``. The step size is
a traced argument, so changing it reuses the compiled run. The number of
steps, the recording interval and the architecture are static, and changing
one of them compiles a new run.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import _validation as check
from .curvature import _top_eigenvalues, sharpness_method
from .models import Network, Params, Target, _check_target, _init_random, loss
from .observables import layer_balance, strengths

DEFAULT_DIVERGENCE_THRESHOLD = 1e6
"""Loss above which a run counts as diverged (the targets in this book have loss ~1 at 0)."""


class Trajectory(NamedTuple):
    """Records of a gradient-descent run, every ``record_every`` steps from step 0.

    Records taken after the run diverged are NaN; ``final_params`` are the last
    parameters whose loss was finite and below the threshold. In a sweep every
    field gains the sweep's leading axes.

    Attributes:
        steps: Step index of each record, shape ``(T,)``.
        loss: Loss, shape ``(T,)``.
        strengths: Per-pathway, per-mode strengths, shape ``(T, K, d)``.
        sharpness: Largest Hessian eigenvalue, shape ``(T,)``; NaN unless tracked.
        balance_drift: Largest change of any balancedness gap since step 0, shape ``(T,)``.
        final_params: Parameters after the last step (or at divergence).
        diverged_step: First step whose loss was non-finite or above the
            threshold, or -1 if there was none; shape ``()``.
    """

    steps: jax.Array
    loss: jax.Array
    strengths: jax.Array
    sharpness: jax.Array
    balance_drift: jax.Array
    final_params: Params
    diverged_step: jax.Array

    @property
    def diverged(self) -> jax.Array:
        """Whether the run diverged (boolean array, sweep-shaped in a sweep)."""
        return self.diverged_step >= 0

    def describe_divergence(self) -> str:
        """Return a sentence saying whether and where this run diverged.

        Raises:
            ValueError: If the trajectory contains a sweep. Select one run first
                (for example with :func:`mpdln_lib.regimes.select_run`).
        """
        if np.ndim(self.diverged_step) != 0:
            raise ValueError(
                f"describe_divergence needs a single run, but this trajectory contains a sweep of shape "
                f"{np.shape(self.diverged_step)}; select one run first"
            )
        step = int(self.diverged_step)
        if step < 0:
            return "the run did not diverge"
        return f"the run diverged at step {step}: its loss became non-finite or exceeded the threshold"


class FlowTrajectory(NamedTuple):
    """Records of a gradient-flow run at requested times.

    Attributes:
        times: Times of the records, shape ``(T,)``.
        loss: Loss, shape ``(T,)``.
        strengths: Per-pathway, per-mode strengths, shape ``(T, K, d)``.
        balance_drift: Largest change of any balancedness gap since time 0, shape ``(T,)``.
        final_params: Parameters at ``times[-1]``.
        num_steps: Accepted plus rejected integrator steps, shape ``()``.
    """

    times: jax.Array
    loss: jax.Array
    strengths: jax.Array
    balance_drift: jax.Array
    final_params: Params
    num_steps: jax.Array


def _balance_drift(params: Params, reference: tuple[jax.Array, ...]) -> jax.Array:
    drifts = [jnp.max(jnp.abs(g - g0)) for g, g0 in zip(layer_balance(params), reference) if g.size]
    return jnp.max(jnp.stack(drifts)) if drifts else jnp.zeros(())


def _observe(params: Params, target: Target, reference, track_sharpness: bool):
    num_params = sum(int(w.size) for w in params)
    if track_sharpness:
        method, num_iter = sharpness_method(num_params)
        top = _top_eigenvalues(params, target, 1, method, num_iter, jax.random.key(0))[0]
    else:
        top = jnp.full((), jnp.nan)
    return loss(params, target), strengths(params, target), top, _balance_drift(params, reference)


def _run_gd(
    params: Params,
    target: Target,
    eta: jax.Array,
    threshold: jax.Array,
    num_steps: int,
    record_every: int,
    track_sharpness: bool,
) -> Trajectory:
    """Traceable gradient descent; see :func:`gradient_descent`."""
    reference = layer_balance(params)
    grad = jax.grad(loss)

    def step(carry, _):
        params, diverged_step, t = carry
        g = grad(params, target)
        proposal = jax.tree_util.tree_map(lambda w, gw: w - eta * gw, params, g)
        new_loss = loss(proposal, target)
        bad = ~jnp.isfinite(new_loss) | (new_loss > threshold)
        diverged_step = jnp.where((diverged_step < 0) & bad, t + 1, diverged_step)
        frozen = diverged_step >= 0
        params = jax.tree_util.tree_map(lambda old, new: jnp.where(frozen, old, new), params, proposal)
        return (params, diverged_step, t + 1), None

    def record(carry, _):
        carry, _ = jax.lax.scan(step, carry, None, length=record_every)
        params, diverged_step, t = carry
        observed = _observe(params, target, reference, track_sharpness)
        return carry, (t, diverged_step) + observed

    start = (params, jnp.array(-1), jnp.array(0))
    first = (jnp.array(0), jnp.array(-1)) + _observe(params, target, reference, track_sharpness)
    (params, diverged_step, _), rest = jax.lax.scan(record, start, None, length=num_steps // record_every)
    steps, flags, losses, p, top, drift = (
        jnp.concatenate([a[None], b]) for a, b in zip(first, rest)
    )
    after = (flags >= 0) & (steps >= flags)
    nan = jnp.nan
    return Trajectory(
        steps=steps,
        loss=jnp.where(after, nan, losses),
        strengths=jnp.where(after[:, None, None], nan, p),
        sharpness=jnp.where(after, nan, top),
        balance_drift=jnp.where(after, nan, drift),
        final_params=params,
        diverged_step=diverged_step,
    )


_run_gd_jit = jax.jit(_run_gd, static_argnames=("num_steps", "record_every", "track_sharpness"))


def _check_schedule(num_steps: int, record_every: int) -> tuple[int, int]:
    num_steps = check.positive_int("num_steps", num_steps)
    record_every = check.positive_int("record_every", record_every)
    if num_steps % record_every:
        raise ValueError(
            f"record_every must divide num_steps = {num_steps}, got record_every = {record_every}"
        )
    return num_steps, record_every


def gradient_descent(
    params: Params,
    target: Target,
    eta: float,
    num_steps: int,
    *,
    record_every: int = 1,
    track_sharpness: bool = False,
    divergence_threshold: float = DEFAULT_DIVERGENCE_THRESHOLD,
) -> Trajectory:
    """Run full-batch gradient descent ``theta <- theta - eta grad loss(theta)``.

    A step whose loss would be non-finite or above ``divergence_threshold`` is
    not taken: the run stops advancing there and reports that step as
    ``diverged_step``.

    Args:
        params: Initial parameters (tuple of ``K`` arrays of shape ``(L_k, d, d)``).
        target: The target.
        eta: Step size, positive and finite.
        num_steps: Number of steps, positive.
        record_every: Record every this many steps; must divide ``num_steps``.
        track_sharpness: Also record the sharpness (dense Hessian up to 256
            parameters, Lanczos with 128 steps above).
        divergence_threshold: Loss above which the run counts as diverged.

    Returns:
        The :class:`Trajectory`, with ``num_steps // record_every + 1`` records.

    Raises:
        ValueError: If an argument is out of range or has the wrong shape.
    """
    _check_target_params(params, target)
    eta = check.positive_finite("eta", eta)
    threshold = check.positive_finite("divergence_threshold", divergence_threshold)
    num_steps, record_every = _check_schedule(num_steps, record_every)
    params = tuple(jnp.asarray(w) for w in params)
    return _run_gd_jit(
        params, target, jnp.asarray(eta), jnp.asarray(threshold), num_steps, record_every, check.flag("track_sharpness", track_sharpness)
    )


def _check_target_params(params: Params, target: Target) -> Network:
    if not isinstance(params, (tuple, list)) or len(params) == 0:
        raise ValueError(f"params must be a non-empty tuple of arrays of shape (L_k, d, d), got {type(params).__name__}")
    shapes = [np.shape(w) for w in params]
    if any(len(s) != 3 or s[1] != s[2] for s in shapes):
        raise ValueError(f"params must be arrays of shape (L_k, d, d), got shapes {shapes}")
    network = Network(depths=tuple(s[0] for s in shapes), width=shapes[0][1])
    network.check_params(params)
    _check_target(network, target)
    return network


def random_init(key: jax.Array, network: Network, scale: jax.Array) -> Params:
    """Default initialiser of :func:`sweep_gd`: Gaussian weights of per-layer scale ``scale``."""
    return _init_random(key, network, scale)


@partial(jax.jit, static_argnames=("network", "init", "num_steps", "record_every", "track_sharpness"))
def _sweep(network, init, target, etas, scales, keys, threshold, num_steps, record_every, track_sharpness):
    def one(eta, scale, key):
        params = init(key, network, scale)
        return _run_gd(params, target, eta, threshold, num_steps, record_every, track_sharpness)

    over_keys = jax.vmap(one, in_axes=(None, None, 0))
    over_scales = jax.vmap(over_keys, in_axes=(None, 0, None))
    return jax.vmap(over_scales, in_axes=(0, None, None))(etas, scales, keys)


def sweep_gd(
    network: Network,
    target: Target,
    etas: jax.Array,
    scales: jax.Array,
    keys: jax.Array,
    num_steps: int,
    *,
    record_every: int = 1,
    track_sharpness: bool = False,
    divergence_threshold: float = DEFAULT_DIVERGENCE_THRESHOLD,
    init: Callable[[jax.Array, Network, jax.Array], Params] = random_init,
) -> Trajectory:
    """Run gradient descent on the grid of step sizes x initial scales x seeds, vectorised by ``vmap``.

    Args:
        network: The architecture.
        target: The target.
        etas: Step sizes, shape ``(E,)``, positive.
        scales: Initial per-layer scales, shape ``(S,)``, positive.
        keys: PRNG keys, shape ``(R,)`` (e.g. ``jax.random.split(key, R)``).
        num_steps: Number of steps.
        record_every: Record every this many steps; must divide ``num_steps``.
        track_sharpness: Also record the sharpness.
        divergence_threshold: Loss above which a run counts as diverged.
        init: ``init(key, network, scale) -> params``, traceable; default
            :func:`random_init`. Pass a module-level function: a new lambda
            on every call compiles the sweep again.

    Returns:
        A :class:`Trajectory` whose fields have leading axes ``(E, S, R)``.

    Raises:
        ValueError: If an argument is out of range or has the wrong shape.
    """
    _check_target(network, target)
    etas = check.positive_array("etas", etas, (None,))
    scales = check.positive_array("scales", scales, (None,))
    threshold = check.positive_finite("divergence_threshold", divergence_threshold)
    num_steps, record_every = _check_schedule(num_steps, record_every)
    if np.ndim(keys) != 1 and not (np.ndim(keys) == 2 and np.shape(keys)[-1] == 2):
        raise ValueError(f"keys must be a 1-d array of PRNG keys (jax.random.split(key, R)), got shape {np.shape(keys)}")
    return _sweep(
        network, init, target, jnp.asarray(etas), jnp.asarray(scales), keys, jnp.asarray(threshold),
        num_steps, record_every, check.flag("track_sharpness", track_sharpness),
    )


# Dormand-Prince 5(4) tableau.
_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0])
_A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
_B5 = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0])
_B4 = np.array([5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40])


def _dopri5_step(f, y, h):
    stages = []
    for row in _A:
        increment = sum((a * k for a, k in zip(row, stages)), jnp.zeros_like(y))
        stages.append(f(y + h * increment))
    k = jnp.stack(stages)
    y_new = y + h * jnp.asarray(_B5) @ k
    error = h * jnp.asarray(_B5 - _B4) @ k
    return y_new, error


@partial(jax.jit, static_argnames=("max_steps",))
def _integrate(params, target, times, rtol, atol, max_steps):
    y0, unravel = ravel_pytree(params)

    def f(y):
        return -jax.grad(lambda flat: loss(unravel(flat), target))(y)

    num_out = times.shape[0]
    outputs = jnp.zeros((num_out,) + y0.shape, y0.dtype)
    span = jnp.maximum(times[-1] - times[0], 1e-12)
    h0 = jnp.minimum(1e-3, span)

    def cond(state):
        t, y, h, i, outputs, n = state
        return (i < num_out) & (n < max_steps)

    def body(state):
        t, y, h, i, outputs, n = state
        goal = times[i]
        remaining = goal - t
        clipped = h >= remaining
        h_try = jnp.where(clipped, remaining, h)
        y_new, error = _dopri5_step(f, y, h_try)
        tolerance = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y_new))
        err = jnp.sqrt(jnp.mean((error / tolerance) ** 2))
        accept = (err <= 1.0) | (h_try == 0)
        reached = accept & clipped
        t = jnp.where(accept, jnp.where(clipped, goal, t + h_try), t)
        y = jnp.where(accept, y_new, y)
        outputs = outputs.at[i].set(jnp.where(reached, y, outputs[i]))
        factor = jnp.clip(0.9 * jnp.where(err > 0, err, 1e-10) ** -0.2, 0.2, 5.0)
        factor = jnp.where(jnp.isfinite(err), factor, 0.2)
        h = jnp.where(reached, h, h_try * factor)
        return t, y, h, i + reached, outputs, n + 1

    state = (times[0] * 0.0, y0, h0, jnp.array(0), outputs, jnp.array(0))
    time_reached, _, _, reached_count, outputs, num_steps = jax.lax.while_loop(cond, body, state)
    reference = layer_balance(params)

    def observe(y):
        p = unravel(y)
        return loss(p, target), strengths(p, target), _balance_drift(p, reference)

    losses, p, drift = jax.vmap(observe)(outputs)
    return losses, p, drift, unravel(outputs[-1]), num_steps, reached_count, time_reached


def gradient_flow(
    params: Params,
    target: Target,
    times: jax.Array,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    max_steps: int = 200_000,
) -> FlowTrajectory:
    """Integrate gradient flow ``d theta / dt = -grad loss(theta)`` from time 0.

    Uses the adaptive Dormand-Prince 5(4) method: a step is accepted when the
    root-mean-square of its error estimate, scaled by ``atol + rtol |theta|``,
    is at most 1, and the step size is hit exactly at each requested time.

    Args:
        params: Initial parameters at time 0.
        target: The target.
        times: Non-decreasing, non-negative record times, shape ``(T,)``.
        rtol: Relative error tolerance per step, positive.
        atol: Absolute error tolerance per step, positive.
        max_steps: Largest number of integrator steps, positive.

    Returns:
        The :class:`FlowTrajectory`.

    Raises:
        ValueError: If an argument is out of range or has the wrong shape.
        RuntimeError: If ``max_steps`` steps did not reach ``times[-1]`` (the
            message gives the time reached); raise ``max_steps`` or loosen ``rtol``.
    """
    _check_target_params(params, target)
    times_np = check.finite_array("times", times, (None,))
    if times_np.size == 0 or times_np[0] < 0 or np.any(np.diff(times_np) < 0):
        raise ValueError(f"times must be a non-empty, non-decreasing array of times >= 0, got {times_np!r}")
    rtol = check.positive_finite("rtol", rtol)
    atol = check.positive_finite("atol", atol)
    max_steps = check.positive_int("max_steps", max_steps)
    params = tuple(jnp.asarray(w) for w in params)
    losses, p, drift, final, num_steps, reached, time_reached = _integrate(
        params, target, jnp.asarray(times_np), rtol, atol, max_steps
    )
    if int(reached) < times_np.size:
        raise RuntimeError(
            f"gradient flow used max_steps = {max_steps} integrator steps and reached only "
            f"t = {float(time_reached):.6g} of {times_np[-1]:.6g}; raise max_steps or loosen rtol = {rtol:g}"
        )
    return FlowTrajectory(
        times=jnp.asarray(times_np), loss=losses, strengths=p, balance_drift=drift,
        final_params=final, num_steps=num_steps,
    )


@partial(jax.jit, static_argnames=("num_steps", "record_every", "track_sharpness"))
def _run_gd_batch(params, target, etas, threshold, num_steps, record_every, track_sharpness):
    def one(params, eta):
        return _run_gd(params, target, eta, threshold, num_steps, record_every, track_sharpness)

    return jax.vmap(one)(params, etas)


def gradient_descent_batch(
    params: Params,
    target: Target,
    etas: jax.Array,
    num_steps: int,
    *,
    record_every: int = 1,
    track_sharpness: bool = False,
    divergence_threshold: float = DEFAULT_DIVERGENCE_THRESHOLD,
) -> Trajectory:
    """Run gradient descent from a batch of initial parameters, one step size each, vectorised by ``vmap``.

    Unlike :func:`sweep_gd`, which draws its initial points inside the run,
    this takes them ready-made, so a caller can build any batch (for example
    one whose inactive pathways are zero). The compiled run is reused for any
    batch of the same shapes.

    Args:
        params: Initial parameters with a leading batch axis: a tuple of ``K``
            arrays of shape ``(B, L_k, d, d)``.
        target: The target, shared by the batch.
        etas: Step sizes, shape ``(B,)``, positive.
        num_steps: Number of steps.
        record_every: Record every this many steps; must divide ``num_steps``.
        track_sharpness: Also record the sharpness.
        divergence_threshold: Loss above which a run counts as diverged.

    Returns:
        A :class:`Trajectory` whose fields have the leading axis ``(B,)``.

    Raises:
        ValueError: If an argument is out of range or has the wrong shape.
    """
    if not isinstance(params, (tuple, list)) or len(params) == 0:
        raise ValueError(
            f"params must be a non-empty tuple of arrays of shape (B, L_k, d, d), got {type(params).__name__}"
        )
    shapes = [np.shape(w) for w in params]
    if any(len(s) != 4 for s in shapes) or len({s[0] for s in shapes}) != 1:
        raise ValueError(f"params must be arrays of shape (B, L_k, d, d) with one batch size B, got shapes {shapes}")
    _check_target_params(tuple(np.asarray(w)[0] for w in params), target)
    for k, w in enumerate(params):
        check.finite_array(f"params[{k}]", w)
    etas = check.positive_array("etas", etas, (shapes[0][0],))
    threshold = check.positive_finite("divergence_threshold", divergence_threshold)
    num_steps, record_every = _check_schedule(num_steps, record_every)
    params = tuple(jnp.asarray(w) for w in params)
    return _run_gd_batch(
        params, target, jnp.asarray(etas), jnp.asarray(threshold), num_steps, record_every, check.flag("track_sharpness", track_sharpness)
    )
