"""Quantities measured on a network: strengths, shares, balancedness, the invariant z."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .models import Params, Target, check_widths, path_products
from . import _validation as check


def strengths(params: Params, target: Target) -> jax.Array:
    """Compute each pathway's strength on each of the target's singular modes.

    The strength of pathway ``k`` on mode ``i`` is ``p_{k,i} = u_i^T Omega_k v_i``,
    with ``u_i``, ``v_i`` the target's singular vectors. For the scalar model it
    is the path product ``p_k = prod_l w_{k,l}``.

    Args:
        params: Network parameters (a tuple of ``K`` arrays of shape ``(L_k, d, d)``).
        target: The target whose singular vectors define the modes.

    Returns:
        ``p``, shape ``(K, d)``.
    """
    check_widths(params, target)
    omegas = path_products(params)
    return jnp.einsum("ai,kab,bi->ki", target.left, omegas, target.right)


def shares(p: jax.Array, axis: int = -2) -> jax.Array:
    """Compute each pathway's share of each mode, ``p_{k,i} / sum_j p_{j,i}``.

    Args:
        p: Strengths; ``axis`` indexes the pathways (shape ``(..., K, d)`` by default).
        axis: The pathway axis; pass ``-1`` for strengths of one mode, shape ``(..., K)``.

    Returns:
        Shares with the shape of ``p``; a mode whose strengths sum to zero gets
        share ``1/K`` on every pathway.
    """
    p = jnp.asarray(p)
    if not -p.ndim <= axis < p.ndim:
        raise ValueError(
            f"axis {axis} is out of range for strengths of shape {p.shape}; pass axis=-1 for one mode, shape (..., K)"
        )
    total = jnp.sum(p, axis=axis, keepdims=True)
    K = p.shape[axis]
    safe = jnp.where(total == 0, 1.0, total)
    return jnp.where(total == 0, 1.0 / K, p / safe)


def effective_pathways(p: jax.Array, axis: int = -2) -> jax.Array:
    """Compute the effective number of pathways ``(sum_k |p_k|)^2 / sum_k p_k^2``.

    It is 1 when a single pathway carries the mode and ``K`` for an equal split.

    Args:
        p: Strengths; ``axis`` indexes the pathways (shape ``(..., K, d)`` by default).
        axis: The pathway axis.

    Returns:
        The effective number, with ``axis`` removed; 0 where every strength is 0.
    """
    total = jnp.sum(jnp.abs(p), axis=axis) ** 2
    squares = jnp.sum(p**2, axis=axis)
    return jnp.where(squares == 0, 0.0, total / jnp.where(squares == 0, 1.0, squares))


def layer_balance(params: Params) -> tuple[jax.Array, ...]:
    """Compute the balancedness gaps ``W_{l+1}^T W_{l+1} - W_l W_l^T`` of every pathway.

    Gradient flow conserves each gap exactly; a balanced network has all gaps 0.

    Returns:
        One array per pathway, shape ``(L_k - 1, d, d)`` (empty for ``L_k = 1``).
    """
    gaps = []
    for weights in params:
        after = jnp.einsum("lba,lbc->lac", weights[1:], weights[1:])
        before = jnp.einsum("lab,lcb->lac", weights[:-1], weights[:-1])
        gaps.append(after - before)
    return tuple(gaps)


def max_imbalance(params: Params) -> jax.Array:
    """Compute the largest absolute entry of any balancedness gap, a scalar (0 if all ``L_k = 1``)."""
    gaps = [jnp.max(jnp.abs(g)) for g in layer_balance(params) if g.size]
    return jnp.max(jnp.stack(gaps)) if gaps else jnp.zeros(())


def pathway_potential(p: jax.Array, depth: int) -> jax.Array:
    """Compute ``phi_L(p)``, whose pairwise differences gradient flow conserves.

    ``phi_L(p) = p^(2/L - 1)`` for ``L >= 3``, ``log p`` for ``L = 2`` and ``p``
    for ``L = 1``. Along balanced gradient flow,
    ``d/dt phi_L(p_k) = c_L (y - f)`` with the same ``c_L`` for every pathway
    (``c_L = 2 - L``, ``2`` and ``1`` respectively).

    Args:
        p: Strengths, any shape; positive for ``L >= 2``.
        depth: The common depth ``L``.

    Returns:
        ``phi_L(p)`` with the shape of ``p``.
    """
    depth = check.positive_int("depth", depth)
    if depth == 1:
        return p
    if depth == 2:
        return jnp.log(p)
    return p ** (2.0 / depth - 1.0)


def invariant_z(p: jax.Array, depth: int) -> jax.Array:
    """Compute the gradient-flow invariants ``z_k = phi_L(p_1) - phi_L(p_k)``, k = 2..K.

    For two pathways this is the single number ``z = phi_L(p_1) - phi_L(p_2)``.
    Gradient flow from balanced initial layers conserves every ``z_k``; large
    step gradient descent pulls them towards 0.

    Args:
        p: Strengths of one mode, shape ``(..., K)`` with ``K >= 2``.
        depth: The common depth ``L``.

    Returns:
        ``z``, shape ``(..., K - 1)``.

    Raises:
        ValueError: If there are fewer than two pathways.
    """
    p = jnp.asarray(p)
    if p.ndim == 0 or p.shape[-1] < 2:
        raise ValueError(f"invariant_z needs at least 2 pathways along the last axis, got shape {p.shape}")
    phi = pathway_potential(p, depth)
    return phi[..., :1] - phi[..., 1:]


def mode_matrices(params: Params, target: Target) -> jax.Array:
    """Compute each pathway's map in the target's singular bases, ``U^T Omega_k V``.

    Entry ``(k, i, j)`` is ``u_i^T Omega_k v_j``: how strongly pathway ``k`` maps
    input mode ``j`` onto output mode ``i``. The diagonal is :func:`strengths`.
    For a network aligned with the target every off-diagonal entry is 0, and
    gradient descent and gradient flow keep it 0.

    Args:
        params: Network parameters (a tuple of ``K`` arrays of shape ``(L_k, d, d)``).
        target: The target whose singular vectors define the modes.

    Returns:
        Shape ``(K, d, d)``.
    """
    check_widths(params, target)
    omegas = path_products(params)
    return jnp.einsum("ai,kab,bj->kij", target.left, omegas, target.right)
