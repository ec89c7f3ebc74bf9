"""Closed forms for multi-pathway deep linear networks.

Notation: ``K`` pathways of depth ``L`` (or depths ``L_k``), target value
``y > 0`` for one mode (a singular value of the target), path products
``p_k``, step size ``eta``. Each function states the assumptions its formula
needs; the tests check every formula against simulation or a dense Hessian.

Root finding is by bisection in float64 to machine precision (200 halvings).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import _validation as check

_BISECTION_STEPS = 200


def _depths_array(depth: int | Sequence[int], num_pathways: int | None = None) -> np.ndarray:
    if isinstance(depth, (int, np.integer)):
        check.positive_int("depth", depth)
        return np.full(num_pathways or 1, int(depth))
    if not isinstance(depth, (Sequence, np.ndarray)) or isinstance(depth, str):
        raise ValueError(f"depth must be a positive integer or a sequence of them, one per pathway, got {depth!r}")
    depths = [check.positive_int(f"depths[{k}]", L) for k, L in enumerate(depth)]
    if num_pathways is not None and len(depths) != num_pathways:
        raise ValueError(f"depths must have one entry per pathway ({num_pathways}), got {depth!r}")
    return np.asarray(depths)


def balanced_sharpness(p: jax.Array, depth: int | Sequence[int]) -> jax.Array:
    """Compute the sharpness of a balanced global minimum with path products ``p``.

    At a global minimum the Hessian is ``J^T J`` and, for one mode, has rank one
    with eigenvalue ``||grad f||^2 = sum_k L_k |p_k|^(2 - 2/L_k)`` when the layers
    within each pathway are balanced. With ``L_k = 1`` a pathway contributes 1
    whatever its ``p_k`` (``0^0 = 1``).

    Args:
        p: Path products, shape ``(..., K)``, summing to the target over ``K``.
        depth: The common depth ``L`` or the depths ``(L_1, ..., L_K)``.

    Returns:
        The sharpness, shape ``(...)``.
    """
    p = jnp.asarray(p)
    if p.ndim == 0:
        raise ValueError(f"p must hold one path product per pathway, shape (..., K), got the scalar {p!r}")
    depths = jnp.asarray(_depths_array(depth, p.shape[-1]), dtype=jnp.result_type(float))
    return jnp.sum(depths * jnp.abs(p) ** (2.0 - 2.0 / depths), axis=-1)


def gf_velocity(p: jax.Array, y: float, depth: int) -> jax.Array:
    """Compute the balanced gradient-flow velocity ``dp_k/dt = L p_k^(2 - 2/L) (y - sum_j p_j)``.

    Args:
        p: Path products, shape ``(..., K)``, non-negative.
        y: Target value.
        depth: The common depth ``L``.

    Returns:
        ``dp/dt``, shape ``(..., K)``.
    """
    depth = check.positive_int("depth", depth)
    residual = y - jnp.sum(p, axis=-1, keepdims=True)
    return depth * jnp.abs(p) ** (2.0 - 2.0 / depth) * residual


def single_path_sharpness(y: float, depth: int, num_pathways: int = 1) -> float:
    """Compute the sharpness ``S_1`` of the minimum where one pathway carries all of ``y``.

    ``S_1 = L y^(2 - 2/L)`` for ``L >= 2``. For ``L = 1`` every dormant one-layer
    pathway still has gradient 1, so the sharpness is ``K`` for any split.
    """
    y = check.positive_finite("y", y)
    depth = check.positive_int("depth", depth)
    num_pathways = check.positive_int("num_pathways", num_pathways)
    if depth == 1:
        return float(num_pathways)
    return depth * y ** (2.0 - 2.0 / depth)


def equal_split_sharpness(y: float, depth: int, num_pathways: int) -> float:
    """Compute ``L K^(2/L - 1) y^(2 - 2/L)``, the sharpness of the balanced equal split.

    It is the smallest sharpness of any global minimum, balanced or not, mixed
    signs included. For ``L >= 3`` the equal split is the unique flattest
    minimum. For ``L = 2`` every same-sign split has sharpness ``2y``, and for
    ``L = 1`` every split has sharpness ``K``.
    """
    y = check.positive_finite("y", y)
    depth = check.positive_int("depth", depth)
    num_pathways = check.positive_int("num_pathways", num_pathways)
    return depth * num_pathways ** (2.0 / depth - 1.0) * y ** (2.0 - 2.0 / depth)


def sharpness_ratio(num_pathways: int, depth: int) -> float:
    """Compute ``K^(2/L - 1)``, equal-split sharpness over single-path sharpness (``L >= 2``).

    It is 1 at ``L = 2`` and tends to ``1/K`` as ``L`` grows.
    """
    num_pathways = check.positive_int("num_pathways", num_pathways)
    depth = check.positive_int("depth", depth)
    if depth < 2:
        raise ValueError(
            f"depth must be >= 2 for the single-path/equal-split ratio (at depth 1 both are K), got {depth}"
        )
    return num_pathways ** (2.0 / depth - 1.0)


def matrix_hessian_spectrum(mode_values: jax.Array, depth: int) -> jax.Array:
    """Compute the nonzero Hessian eigenvalues ``mu_ij`` at a balanced aligned matrix minimum.

    ``mu_ij = sum_k sum_{l=1..L} s_{k,i}^(2(L-l)/L) s_{k,j}^(2(l-1)/L)``, one per pair of
    modes ``(i, j)``; the diagonal is ``lambda_i = L sum_k s_{k,i}^(2 - 2/L)`` and
    the sharpness is ``max_i lambda_i``.

    Args:
        mode_values: ``s_{k,i} >= 0``, shape ``(K, d)``, the per-pathway mode values.
        depth: The common depth ``L``.

    Returns:
        ``mu``, shape ``(d, d)``.
    """
    depth = check.positive_int("depth", depth)
    values = check.finite_array("mode_values", mode_values, (None, None))
    if np.any(values < 0):
        raise ValueError(f"mode_values must be non-negative (mode values of a minimum), got {values!r}")
    s = jnp.asarray(values)
    l = jnp.arange(1, depth + 1, dtype=s.dtype)
    left = s[:, :, None] ** (2.0 * (depth - l) / depth)  # (K, d, L), power for mode i
    right = s[:, :, None] ** (2.0 * (l - 1) / depth)  # (K, d, L), power for mode j
    return jnp.einsum("kil,kjl->ij", left, right)


def gf_limit(p0: Sequence[float] | jax.Array, y: float, depth: int) -> np.ndarray:
    """Compute where balanced gradient flow on one mode ends, from path products ``p0``.

    Gradient flow conserves ``phi_L(p_j) - phi_L(p_k)`` (see
    :func:`mpdln_lib.observables.pathway_potential`), and the limit is the
    global minimum on that conserved set:

    - ``L = 1``: ``p_k(inf) = p_k(0) + (y - sum_j p_j(0)) / K`` (equalises);
    - ``L = 2``: ``p_k(inf) = y p_k(0) / sum_j p_j(0)`` (keeps the ratio);
    - ``L >= 3``: ``p_k(inf) = (q_k - c)^(-L/(L-2))`` with ``q_k = p_k(0)^(2/L - 1)``
      and ``c < min_k q_k`` solving ``sum_k (q_k - c)^(-L/(L-2)) = y``
      (winner takes all as the initial scale shrinks).

    Args:
        p0: Initial path products, shape ``(K,)``; positive for ``L >= 2``.
        y: Target value, positive.
        depth: The common depth ``L``.

    Returns:
        ``p(inf)``, shape ``(K,)``, float64.

    Raises:
        ValueError: If ``y`` is not positive or, for ``L >= 2``, a ``p0`` entry is not positive.
    """
    y = check.positive_finite("y", y)
    depth = check.positive_int("depth", depth)
    if depth == 1:
        p0 = check.finite_array("p0", p0, (None,))
        return p0 + (y - p0.sum()) / p0.size
    p0 = check.positive_array("p0", p0, (None,))
    if depth == 2:
        return y * p0 / p0.sum()
    exponent = -depth / (depth - 2.0)
    q = p0 ** (2.0 / depth - 1.0)
    K = p0.size
    # x = min(q) - c > 0. The total grows as x shrinks; at x_high it is below y.
    x_low, x_high = 0.0, 2.0 * (K / y) ** ((depth - 2.0) / depth) + 1.0
    shift = q - q.min()
    for _ in range(_BISECTION_STEPS):
        x = 0.5 * (x_low + x_high)
        if np.sum((shift + x) ** exponent) > y:
            x_low = x
        else:
            x_high = x
    return (shift + x_high) ** exponent


def gf_learning_time(a0: float, y: float, depth: int) -> float:
    """Estimate how long gradient flow takes one balanced pathway from per-layer scale ``a0`` to ``y``.

    For ``L >= 3`` this is the blow-up time of ``dp/dt = L y p^(2 - 2/L)``,
    ``a0^-(L-2) / ((L - 2) y)``; for ``L = 2`` it is ``ln(y / a0^2) / (2 y)``.
    Both are the leading order as ``a0 -> 0``.

    Raises:
        ValueError: If ``depth < 2``, or ``a0`` or ``y`` is not positive, or
            ``a0^L >= y`` (the pathway starts past its target).
    """
    a0 = check.positive_finite("a0", a0)
    y = check.positive_finite("y", y)
    depth = check.positive_int("depth", depth)
    if depth < 2:
        raise ValueError(f"depth must be >= 2 for a learning time (depth 1 learns at rate 1), got {depth}")
    if a0**depth >= y:
        raise ValueError(f"a0 must satisfy a0^depth < y = {y}, got a0 = {a0} (a0^depth = {a0**depth})")
    if depth == 2:
        return float(np.log(y / a0**2) / (2.0 * y))
    return a0 ** (-(depth - 2.0)) / ((depth - 2.0) * y)


def gd_end_strength(y: float, depth: int, eta: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Predict the leading pathway's final strength for large-step GD with two pathways.

    From a small initialisation GD first reaches a near single-path minimum.
    If its sharpness ``S_1`` exceeds ``2 / eta``, the edge-of-stability phase
    moves the split until the sharpness falls to ``2 / eta``, approached from
    the sharp side: the leader ends at the ``p`` in ``[y/2, y]`` solving
    ``L (p^(2-2/L) + (y - p)^(2-2/L)) = 2 / eta``. For ``eta <= 2 / S_1`` it stays
    at ``p = y``.

    The prediction is approximate. The oscillation carries GD slightly past
    this minimum (about 0.5% flatter than ``2 / eta`` at ``L = 3``, ``eta = 0.75``).
    It also assumes that the early iterates reach a near single-path minimum,
    which fails when both pathways start at almost the same size.

    Args:
        y: Target value, positive.
        depth: The common depth ``L >= 3``.
        eta: Step size(s), each in ``(0, 2 / lambda_min)``.

    Returns:
        The leader's final strength, shape of ``eta``.

    Raises:
        ValueError: If ``depth < 3`` (no re-balancing), or an ``eta`` is not
            positive or is at or above ``2 / lambda_min`` (no stable minimum).
    """
    y = check.positive_finite("y", y)
    depth = check.positive_int("depth", depth)
    if depth < 3:
        raise ValueError(f"depth must be >= 3 for re-balancing (every split is equally sharp below), got {depth}")
    etas = check.positive_array("eta", eta)
    eta_max = 2.0 / equal_split_sharpness(y, depth, 2)
    if np.any(etas >= eta_max):
        raise ValueError(
            f"eta must be below 2/lambda_min = {eta_max:.6g} (no minimum is stable above it), got {eta!r}"
        )
    exponent = 2.0 - 2.0 / depth
    goal = 2.0 / etas
    low = np.full_like(etas, 0.5 * y)
    high = np.full_like(etas, y)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        too_flat = depth * (mid**exponent + (y - mid) ** exponent) < goal
        low = np.where(too_flat, mid, low)
        high = np.where(too_flat, high, mid)
    return np.where(goal >= depth * y**exponent, y, high)


def worst_case_return_map(u: np.ndarray, gamma: float, depth: int) -> np.ndarray:
    """Apply one GD step of the rescaled single chain, ``g(u) = u - (gamma/L) u^(L-1) (u^L - 1)``.

    Here ``u = w / y^(1/L)`` and ``eta = gamma / S_1`` for one balanced pathway of
    ``L`` identical layers ``w``.
    """
    return u - (gamma / depth) * u ** (depth - 1) * (u**depth - 1.0)


def _max_overshoot(gamma: float, depth: int) -> float:
    u = np.linspace(0.0, 1.0, 4001)[1:-1]
    values = worst_case_return_map(u, gamma, depth)
    i = int(np.argmax(values))
    low, high = u[max(i - 1, 0)], u[min(i + 1, u.size - 1)]
    for _ in range(100):  # golden-section refinement of the maximiser
        a = high - 0.618033988749895 * (high - low)
        b = low + 0.618033988749895 * (high - low)
        if worst_case_return_map(a, gamma, depth) < worst_case_return_map(b, gamma, depth):
            low = a
        else:
            high = b
    return float(worst_case_return_map(0.5 * (low + high), gamma, depth))


def gamma_wcr(depth: int) -> float:
    """Compute the worst-case-return limit ``gamma_WCR(L)``.

    It is the ``gamma`` (step size in units of ``1 / S_1``) at which the largest
    overshoot from ``u in (0, 1)`` lands exactly on ``u = 0`` one step later:
    ``g(max_u g(u)) = 0`` with :func:`worst_case_return_map`. Above it an
    overshoot can flip the sign of a pathway and re-balancing fails.

    Raises:
        ValueError: If ``depth < 3``.
    """
    depth = check.positive_int("depth", depth)
    if depth < 3:
        raise ValueError(f"depth must be >= 3 for the worst-case-return limit, got {depth}")

    def landing(gamma: float) -> float:
        return float(worst_case_return_map(np.float64(_max_overshoot(gamma, depth)), gamma, depth))

    low, high = 1.0, 2.0
    while landing(high) > 0:
        low, high = high, 2.0 * high
    for _ in range(80):
        mid = 0.5 * (low + high)
        if landing(mid) > 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def rebalancing_window(y: float, depth: int, num_pathways: int) -> tuple[float, float]:
    """Compute the step sizes ``(eta_low, eta_high)`` at which GD re-balances pathways.

    ``eta_low = 2 / S_1``: below it GD behaves like gradient flow and ends
    single-path. ``eta_high = min(2 K^(1 - 2/L), gamma_WCR(L)) / S_1``: above it
    either no minimum is stable (``2 / lambda_min``) or an overshoot flips a
    pathway's sign.

    Raises:
        ValueError: If ``depth < 3`` or ``num_pathways < 2``.
    """
    depth = check.positive_int("depth", depth)
    num_pathways = check.positive_int("num_pathways", num_pathways)
    if depth < 3:
        raise ValueError(f"depth must be >= 3 for a re-balancing window, got {depth}")
    if num_pathways < 2:
        raise ValueError(f"num_pathways must be >= 2 for a re-balancing window, got {num_pathways}")
    S1 = single_path_sharpness(y, depth)
    upper = min(2.0 * num_pathways ** (1.0 - 2.0 / depth), gamma_wcr(depth))
    return 2.0 / S1, upper / S1


def flattest_split(y: float, depths: Sequence[int]) -> np.ndarray:
    """Compute the flattest balanced split of ``y`` over pathways of unequal depths.

    Minimising ``sum_h L_h p_h^(2 - 2/L_h)`` subject to ``sum_h p_h = y`` gives the
    Lagrange condition ``2 (L_h - 1) p_h^(1 - 2/L_h) = mu`` for every ``h``.

    Args:
        y: Target value, positive.
        depths: ``(L_1, ..., L_K)``, each ``>= 3``.

    Returns:
        ``p``, shape ``(K,)``, summing to ``y``.

    Raises:
        ValueError: If a depth is below 3 (the objective is then not strictly convex).
    """
    y = check.positive_finite("y", y)
    L = _depths_array(depths).astype(np.float64)
    if np.any(L < 3):
        raise ValueError(f"every depth must be >= 3 for a unique flattest split, got depths {list(depths)}")

    def split(log_mu: float) -> np.ndarray:
        return (np.exp(log_mu) / (2.0 * (L - 1.0))) ** (L / (L - 2.0))

    low, high = -60.0, 60.0
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        if split(mid).sum() < y:
            low = mid
        else:
            high = mid
    p = split(0.5 * (low + high))
    return p * (y / p.sum())


def z_change_per_step(a: jax.Array, residual: jax.Array, eta: float, depth: int) -> tuple[jax.Array, jax.Array]:
    """Compute the change of ``phi_L(p_k)`` in one GD step, exactly and to second order in ``eta``.

    For identical layers ``a_k`` in each pathway (``p_k = a_k^L``), one GD step
    maps ``a_k -> a_k (1 - eta a_k^(L-2) r)`` with residual ``r = f - y``. Then
    ``phi_L(p_k) = a_k^(2-L)`` changes by ``a_k^(2-L) ((1 - eta a_k^(L-2) r)^(2-L) - 1)``,
    which is ``(L-2) eta r + (L-1)(L-2)/2 eta^2 r^2 a_k^(L-2) + O(eta^3)``.
    The first-order term is the same for every pathway, so ``z`` changes by the
    difference of the second-order terms: every step pulls ``z`` towards 0.

    Args:
        a: Per-layer weights, shape ``(..., K)``, positive.
        residual: ``r = f - y``, shape ``(...)``.
        eta: Step size.
        depth: The common depth ``L >= 3``.

    Returns:
        ``(exact, second_order)``: the change of ``z_k = phi(p_1) - phi(p_k)``,
        each of shape ``(..., K - 1)``.
    """
    depth = check.positive_int("depth", depth)
    if depth < 3:
        raise ValueError(f"depth must be >= 3 (phi is a power only then), got {depth}")
    r = jnp.asarray(residual)[..., None]
    exact_phi = a ** (2.0 - depth) * ((1.0 - eta * a ** (depth - 2.0) * r) ** (2.0 - depth) - 1.0)
    approx_phi = (depth - 2.0) * eta * r + 0.5 * (depth - 1.0) * (depth - 2.0) * eta**2 * r**2 * a ** (depth - 2.0)
    return exact_phi[..., :1] - exact_phi[..., 1:], approx_phi[..., :1] - approx_phi[..., 1:]


def _flow_time_potential(p: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Compute ``Phi_L(p) = integral dp / (L p^(2 - 2/L))`` per pathway (``L = depth``)."""
    out = np.empty_like(p)
    single_layer, two_layer, deep = depth == 1, depth == 2, depth >= 3
    out[single_layer] = p[single_layer]
    out[two_layer] = 0.5 * np.log(p[two_layer])
    L = depth[deep]
    out[deep] = p[deep] ** (2.0 / L - 1.0) / (2.0 - L)
    return out


def _inverse_flow_time_potential(v: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Invert :func:`_flow_time_potential`; entries with ``L >= 3`` need ``v < 0``."""
    out = np.empty_like(v)
    single_layer, two_layer, deep = depth == 1, depth == 2, depth >= 3
    out[single_layer] = v[single_layer]
    out[two_layer] = np.exp(2.0 * v[two_layer])
    L = depth[deep]
    out[deep] = ((L - 2.0) * -v[deep]) ** (-L / (L - 2.0))
    return out


def gf_limit_depths(p0: Sequence[float] | jax.Array, y: float, depths: Sequence[int]) -> np.ndarray:
    """Compute where balanced gradient flow on one mode ends when pathways differ in depth.

    Pathway ``k`` obeys ``dp_k/dt = L_k p_k^(2 - 2/L_k) (y - f)``, so
    ``Phi_{L_k}(p_k)`` with ``Phi_L(p) = integral dp / (L p^(2 - 2/L))`` (``p`` for
    ``L = 1``, ``log(p) / 2`` for ``L = 2``, ``p^(2/L - 1) / (2 - L)`` for ``L >= 3``)
    grows by the same ``tau(t) = integral_0^t (y - f) ds`` in every pathway. The
    limit is ``p_k = Phi_{L_k}^{-1}(Phi_{L_k}(p_k(0)) + tau)`` with ``tau`` solving
    ``sum_k p_k = y`` by bisection. With equal depths it agrees with :func:`gf_limit`.

    Args:
        p0: Initial path products, shape ``(K,)``; positive where ``L_k >= 2``.
        y: Target value, positive.
        depths: ``(L_1, ..., L_K)``.

    Returns:
        ``p(inf)``, shape ``(K,)``, float64.

    Raises:
        ValueError: If ``y`` is not positive, ``depths`` and ``p0`` differ in
            length, or a ``p0`` entry with ``L_k >= 2`` is not positive.
    """
    y = check.positive_finite("y", y)
    p0 = check.finite_array("p0", p0, (None,))
    L = _depths_array(depths)
    if L.size != p0.size:
        raise ValueError(f"depths must have one entry per pathway ({p0.size}), got {list(depths)}")
    if np.any((L >= 2) & (p0 <= 0)):
        raise ValueError(f"p0 must be positive where the depth is >= 2, got p0 = {p0!r} for depths {list(depths)}")
    start = _flow_time_potential(p0, L)

    def total(tau: float) -> float:
        return float(np.sum(_inverse_flow_time_potential(start + tau, L)))

    # A pathway with L >= 3 reaches infinity in finite tau: Phi_L(p) -> 0 as p -> inf.
    deep = L >= 3
    tau_high = float(np.min(-start[deep])) if np.any(deep) else 1.0
    while not np.any(deep) and total(tau_high) <= y:
        tau_high *= 2.0
    tau_low = -1.0
    while total(tau_low) >= y:
        tau_low *= 2.0
    for _ in range(_BISECTION_STEPS):
        tau = 0.5 * (tau_low + tau_high)
        if total(tau) > y:
            tau_high = tau
        else:
            tau_low = tau
    return _inverse_flow_time_potential(start + tau_low, L)
