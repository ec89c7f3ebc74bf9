"""Curvature of the loss: Hessian-vector products, Lanczos, power iteration, dense Hessian.

The *sharpness* is the largest algebraic eigenvalue of the Hessian of the
loss ``1/2 ||M - M*||_F^2``. Away from a minimum the Hessian is indefinite and
its most negative eigenvalue can be the largest in magnitude, so routines that
return the largest-magnitude eigenvalue (power iteration, ``eigsh(which="LM")``)
can return a negative number; :func:`lanczos_top_eigenvalues` returns the
largest algebraic ones.

Every routine computes in the dtype of its input. Use float64 (the default
once :mod:`mpdln_lib` is imported) for Hessian work: on the book's models the
top eigenvalue carries relative errors near ``1e-15`` in float64 but ``1e-8``
to ``1e-7`` in float32, and float32 cannot tell small eigenvalues from zero.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .models import Params, Target, loss
from . import _validation as check

Matvec = Callable[[jax.Array], jax.Array]
"""A symmetric linear map ``v -> A v`` on vectors of shape ``(n,)``."""

DENSE_LIMIT = 256
"""Largest parameter count for which ``method="auto"`` forms the dense Hessian."""


def flat_loss(params: Params, target: Target) -> tuple[Callable[[jax.Array], jax.Array], jax.Array]:
    """Express the loss as a function of one flat parameter vector.

    Returns:
        ``(fun, x)``: ``fun`` maps a vector of shape ``(n,)`` to the scalar loss,
        and ``x``, shape ``(n,)``, is ``params`` flattened (pathway by pathway,
        layer by layer, row-major).
    """
    x, unravel = ravel_pytree(params)
    return (lambda flat: loss(unravel(flat), target)), x


def hvp(fun: Callable[[jax.Array], jax.Array], x: jax.Array, v: jax.Array) -> jax.Array:
    """Compute the Hessian-vector product ``H(x) v`` of a scalar function by forward-over-reverse.

    Args:
        fun: Scalar function of a vector of shape ``(n,)``.
        x: Point, shape ``(n,)``.
        v: Direction, shape ``(n,)``.

    Returns:
        ``H(x) v``, shape ``(n,)``.
    """
    return jax.jvp(jax.grad(fun), (x,), (v,))[1]


def hessian_matvec(params: Params, target: Target) -> tuple[Matvec, int]:
    """Build the Hessian-vector product of the loss at ``params``.

    Returns:
        ``(matvec, n)`` with ``matvec(v) = H v`` on vectors of shape ``(n,)``.
    """
    fun, x = flat_loss(params, target)
    return (lambda v: hvp(fun, x, v)), int(x.shape[0])


@jax.jit
def dense_hessian(params: Params, target: Target) -> jax.Array:
    """Form the full Hessian of the loss, shape ``(n, n)`` with ``n`` parameters (jitted)."""
    fun, x = flat_loss(params, target)
    return jax.hessian(fun)(x)


def lanczos_tridiagonal(
    matvec: Matvec, v0: jax.Array, num_iter: int, key: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run ``num_iter`` Lanczos steps with full re-orthogonalisation.

    Each new vector is orthogonalised twice against all earlier ones (classical
    Gram-Schmidt, repeated), which keeps the basis orthonormal to rounding
    error. The Krylov space is exhausted when the next vector's norm falls
    below ``1000 eps ||T||``, as it does for the rank-one Hessian at a scalar
    minimum. The iteration then restarts from a random vector orthogonal to
    the basis and records a zero off-diagonal entry, so ``T`` becomes block
    diagonal.

    Args:
        matvec: Symmetric linear map on vectors of shape ``(n,)``.
        v0: Start vector, shape ``(n,)``, non-zero.
        num_iter: Number of steps ``m``, at most ``n``.
        key: PRNG key for the restart vectors.

    Returns:
        ``(alpha, beta, basis)``: the diagonal ``(m,)`` and off-diagonal ``(m - 1,)``
        of the tridiagonal matrix ``T``, and the orthonormal basis ``(m, n)``.
    """
    n = v0.shape[0]
    dtype = v0.dtype
    eps = jnp.finfo(dtype).eps
    basis = jnp.zeros((num_iter + 1, n), dtype).at[0].set(v0 / jnp.linalg.norm(v0))

    def orthogonalise(w: jax.Array, basis: jax.Array) -> jax.Array:
        w = w - basis.T @ (basis @ w)
        return w - basis.T @ (basis @ w)

    def step(j, state):
        basis, alpha, beta, scale, key = state
        v = basis[j]
        w = matvec(v)
        a = jnp.dot(v, w)
        w = orthogonalise(w, basis)
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        key, subkey = jax.random.split(key)
        restart = orthogonalise(jax.random.normal(subkey, (n,), dtype), basis)
        restart = restart / jnp.maximum(jnp.linalg.norm(restart), jnp.finfo(dtype).tiny)
        exhausted = b <= 1000 * eps * scale
        next_v = jnp.where(exhausted, restart, w / jnp.where(exhausted, 1.0, b))
        basis = basis.at[j + 1].set(next_v)
        alpha = alpha.at[j].set(a)
        beta = beta.at[j].set(jnp.where(exhausted, 0.0, b))
        return basis, alpha, beta, scale, key

    state = (basis, jnp.zeros(num_iter, dtype), jnp.zeros(num_iter, dtype), jnp.zeros((), dtype), key)
    basis, alpha, beta, _, _ = jax.lax.fori_loop(0, num_iter, step, state)
    return alpha, beta[:-1], basis[:-1]


def _tridiagonal_eigenvalues(alpha: jax.Array, beta: jax.Array) -> jax.Array:
    T = jnp.diag(alpha) + jnp.diag(beta, 1) + jnp.diag(beta, -1)
    return jnp.linalg.eigvalsh(T)


def lanczos_top_eigenvalues(
    matvec: Matvec,
    dim: int,
    k: int = 1,
    num_iter: int | None = None,
    key: jax.Array | None = None,
    dtype: jnp.dtype = jnp.float64,
) -> jax.Array:
    """Estimate the ``k`` largest algebraic eigenvalues of a symmetric operator by Lanczos.

    Args:
        matvec: Symmetric linear map on vectors of shape ``(dim,)``.
        dim: The dimension ``n``.
        k: How many eigenvalues, ``1 <= k <= num_iter``.
        num_iter: Lanczos steps, ``k <= num_iter <= dim``; default ``min(dim, 128)``.
            With ``num_iter = dim`` the result is exact up to rounding.
        key: PRNG key for the start vector; default ``jax.random.key(0)``.
        dtype: Floating dtype of the iteration.

    Returns:
        The Ritz values, largest first, shape ``(k,)``.

    Raises:
        ValueError: If ``dim``, ``k`` or ``num_iter`` is out of range.
    """
    dim = check.positive_int("dim", dim)
    num_iter = min(dim, 128) if num_iter is None else check.positive_int("num_iter", num_iter)
    k = check.positive_int("k", k)
    if num_iter > dim:
        raise ValueError(f"num_iter must be at most dim = {dim}, got {num_iter}")
    if k > num_iter:
        raise ValueError(f"k must be at most num_iter = {num_iter}, got {k}")
    key = jax.random.key(0) if key is None else key
    return _lanczos_top(matvec, dim, k, num_iter, key, jnp.dtype(dtype))


def _lanczos_top(matvec: Matvec, dim: int, k: int, num_iter: int, key: jax.Array, dtype) -> jax.Array:
    """:func:`lanczos_top_eigenvalues` without argument checks (traceable)."""
    start_key, restart_key = jax.random.split(key)
    v0 = jax.random.normal(start_key, (dim,), dtype)
    alpha, beta, _ = lanczos_tridiagonal(matvec, v0, num_iter, restart_key)
    return _tridiagonal_eigenvalues(alpha, beta)[::-1][:k]


def power_iteration(matvec: Matvec, v0: jax.Array, num_iter: int) -> jax.Array:
    """Run power iteration and return its eigenvalue estimate after every step.

    Power iteration converges to the eigenvalue of largest *magnitude*, which
    is negative wherever the most negative eigenvalue dominates. The book uses
    it to show that pitfall, not to measure sharpness.

    Args:
        matvec: Symmetric linear map on vectors of shape ``(n,)``.
        v0: Start vector, shape ``(n,)``, non-zero.
        num_iter: Number of steps, positive.

    Returns:
        The Rayleigh quotient ``v^T A v`` after each step, shape ``(num_iter,)``.
    """
    num_iter = check.positive_int("num_iter", num_iter)

    def step(v, _):
        w = matvec(v)
        estimate = jnp.dot(v, w)
        return w / jnp.linalg.norm(w), estimate

    _, estimates = jax.lax.scan(step, v0 / jnp.linalg.norm(v0), None, length=num_iter)
    return estimates


def hessian_top_eigenvalues(
    params: Params,
    target: Target,
    k: int = 1,
    method: str = "auto",
    num_iter: int | None = None,
    key: jax.Array | None = None,
) -> jax.Array:
    """Compute the ``k`` largest algebraic eigenvalues of the loss Hessian.

    Args:
        params: Network parameters.
        target: The target.
        k: How many eigenvalues.
        method: ``"dense"`` (full Hessian and ``eigh``; the reference),
            ``"lanczos"``, or ``"auto"`` (dense up to ``DENSE_LIMIT`` parameters).
        num_iter: Lanczos steps (default ``min(n, 128)``); ignored by ``"dense"``.
        key: PRNG key for Lanczos; default ``jax.random.key(0)``.

    Returns:
        Eigenvalues, largest first, shape ``(k,)``, in the dtype of ``params``.

    Raises:
        ValueError: If ``method``, ``k`` or ``num_iter`` is invalid.
    """
    check.one_of("method", method, ("auto", "dense", "lanczos"))
    n = sum(int(w.size) for w in params)
    k = check.positive_int("k", k)
    if k > n:
        raise ValueError(f"k must be at most the number of parameters {n}, got {k}")
    if method == "auto":
        method = "dense" if n <= DENSE_LIMIT else "lanczos"
    if method == "lanczos":
        num_iter = min(n, 128) if num_iter is None else check.positive_int("num_iter", num_iter)
        if not k <= num_iter <= n:
            raise ValueError(f"num_iter must be between k = {k} and n = {n}, got {num_iter}")
    key = jax.random.key(0) if key is None else key
    return _top_eigenvalues(params, target, k, method, num_iter or 0, key)


@partial(jax.jit, static_argnames=("k", "method", "num_iter"))
def _top_eigenvalues(params: Params, target: Target, k: int, method: str, num_iter: int, key: jax.Array) -> jax.Array:
    if method == "dense":
        return jnp.linalg.eigvalsh(dense_hessian(params, target))[::-1][:k]
    matvec, n = hessian_matvec(params, target)
    dtype = jnp.result_type(*params)
    return _lanczos_top(matvec, n, k, num_iter, key, dtype)


def sharpness_method(num_params: int) -> tuple[str, int]:
    """Choose how to track sharpness for a model with ``num_params`` parameters.

    Returns:
        ``("dense", 0)`` up to ``DENSE_LIMIT`` parameters, else ``("lanczos", min(n, 128))``.
    """
    if num_params <= DENSE_LIMIT:
        return "dense", 0
    return "lanczos", min(num_params, 128)


def sharpness(params: Params, target: Target, method: str = "auto", num_iter: int | None = None) -> jax.Array:
    """Compute the sharpness, the largest algebraic eigenvalue of the loss Hessian (a scalar)."""
    return hessian_top_eigenvalues(params, target, k=1, method=method, num_iter=num_iter)[0]
