"""Tests for mpdln_lib.curvature against the dense float64 Hessian and ``eigh``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpdln_lib as mp

# Lanczos with full re-orthogonalisation matches eigh to a few units of
# rounding error times the spectral norm; 1e-8 relative is the acceptance bar.
LANCZOS_RTOL = 1e-8
# Eigenvalues that should vanish are zero up to rounding times the spectral norm.
ZERO_ATOL = 1e-12


@pytest.fixture(scope="module")
def small_model(dense_hessian):
    """A 45-parameter matrix network (depths 2 and 3, d = 3) at a random point, with its dense Hessian."""
    network = mp.Network(depths=(2, 3), width=3)
    target = mp.make_target([2.0, 1.0, 0.5], key=jax.random.key(3))
    params = mp.init_random(jax.random.key(4), network, 0.9)
    return params, target, np.asarray(dense_hessian(params, target))


@pytest.fixture(scope="module")
def large_model(dense_hessian):
    """A 2048-parameter matrix network (K = 2, L = 4, d = 16) at a random point, with its dense spectrum."""
    network = mp.Network.uniform(2, 4, width=16)
    assert network.num_params == 2048
    target = mp.make_target(jnp.linspace(1.0, 3.0, 16), key=jax.random.key(1))
    params = mp.init_random(jax.random.key(2), network, 1.0)
    eigenvalues = np.linalg.eigvalsh(np.asarray(dense_hessian(params, target)))
    return params, target, eigenvalues


@pytest.fixture(scope="module")
def large_lanczos(large_model):
    """The three largest Ritz values of the large model after the default 128 Lanczos steps."""
    params, target, _ = large_model
    matvec, n = mp.hessian_matvec(params, target)
    return np.asarray(mp.lanczos_top_eigenvalues(matvec, n, k=3, key=jax.random.key(7)))


@pytest.fixture(scope="module")
def negative_dominated_model(dense_hessian):
    """Small aligned init with L = 3: the most negative eigenvalue outweighs the top one.

    Near zero the residual term ``(f - y) d^2 f`` dominates the Hessian, and for
    three layers of size ``a`` its eigenvalues are ``-2 a y`` and ``+a y``.
    """
    network = mp.Network.uniform(2, 3, width=4)
    target = mp.make_target(jnp.array([1.0, 1.5, 2.0, 2.5]))
    params = mp.init_aligned(network, jnp.array([0.1, 0.08]), target)
    eigenvalues = np.linalg.eigvalsh(np.asarray(dense_hessian(params, target)))
    return params, target, eigenvalues


@pytest.fixture(scope="module")
def scalar_minimum():
    """The scalar model K = 2, L = 3 at the minimum p = (0.7, 0.3): a rank-one Hessian."""
    network = mp.Network.uniform(2, 3)
    target = mp.scalar_target(1.0)
    params = mp.init_from_strengths(network, jnp.array([0.7, 0.3]), target)
    return params, target


def test_flat_loss_matches_loss(small_model):
    params, target, _ = small_model
    fun, x = mp.flat_loss(params, target)
    assert x.shape == (45,)
    assert float(fun(x)) == float(mp.loss(params, target))


def test_hvp_matches_dense_product(small_model):
    params, target, H = small_model
    fun, x = mp.flat_loss(params, target)
    matvec, n = mp.hessian_matvec(params, target)
    v = jax.random.normal(jax.random.key(5), (n,))
    expected = H @ np.asarray(v)
    scale = np.linalg.norm(expected)
    assert np.max(np.abs(np.asarray(mp.hvp(fun, x, v)) - expected)) <= 1e-13 * scale
    assert np.max(np.abs(np.asarray(matvec(v)) - expected)) <= 1e-13 * scale


def test_dense_hessian_symmetric(small_model):
    _, _, H = small_model
    assert H.shape == (45, 45)
    assert np.max(np.abs(H - H.T)) <= 1e-14 * np.max(np.abs(H))


def test_dense_hessian_scalar_entries():
    # f = w1 w2 + v, loss = (f - y)^2 / 2, at w = (2, 3), v = 1, y = 4: r = 3.
    params = (jnp.array([2.0, 3.0]).reshape(2, 1, 1), jnp.array([1.0]).reshape(1, 1, 1))
    H = np.asarray(mp.dense_hessian(params, mp.scalar_target(4.0)))
    grad_f = np.array([3.0, 2.0, 1.0])
    expected = np.outer(grad_f, grad_f)
    expected[0, 1] += 3.0
    expected[1, 0] += 3.0
    np.testing.assert_allclose(H, expected, rtol=0, atol=1e-14)


def test_lanczos_top_large_model(large_model, large_lanczos):
    _, _, eigenvalues = large_model
    top = float(large_lanczos[0])
    assert abs(top - eigenvalues[-1]) <= LANCZOS_RTOL * abs(eigenvalues[-1])


def test_lanczos_top_three_large_model(large_model, large_lanczos):
    _, _, eigenvalues = large_model
    np.testing.assert_allclose(large_lanczos, eigenvalues[::-1][:3], rtol=LANCZOS_RTOL)


def test_hessian_top_lanczos_large_model(large_model):
    params, target, eigenvalues = large_model
    top = float(mp.hessian_top_eigenvalues(params, target, method="lanczos")[0])
    assert abs(top - eigenvalues[-1]) <= LANCZOS_RTOL * abs(eigenvalues[-1])


def test_sharpness_auto_large_model(large_model):
    # Above DENSE_LIMIT parameters "auto" runs Lanczos with 128 steps.
    params, target, eigenvalues = large_model
    assert mp.DENSE_LIMIT < 2048
    top = float(mp.sharpness(params, target))
    assert abs(top - eigenvalues[-1]) <= LANCZOS_RTOL * abs(eigenvalues[-1])


def test_negative_dominated_reference(negative_dominated_model):
    _, _, eigenvalues = negative_dominated_model
    assert eigenvalues[-1] > 0
    assert -eigenvalues[0] > 1.05 * eigenvalues[-1]


def test_lanczos_positive_top_negative_dominated(negative_dominated_model):
    params, target, eigenvalues = negative_dominated_model
    matvec, n = mp.hessian_matvec(params, target)
    top = float(mp.lanczos_top_eigenvalues(matvec, n, num_iter=48)[0])
    assert abs(top - eigenvalues[-1]) <= LANCZOS_RTOL * eigenvalues[-1]


def test_hessian_top_lanczos_negative_dominated(negative_dominated_model):
    params, target, eigenvalues = negative_dominated_model
    top = np.asarray(mp.hessian_top_eigenvalues(params, target, k=3, method="lanczos"))
    np.testing.assert_allclose(top, eigenvalues[::-1][:3], rtol=LANCZOS_RTOL)


def test_power_iteration_finds_negative(negative_dominated_model):
    # Power iteration converges to the largest-magnitude eigenvalue, here the
    # most negative one, at the rate |lambda_2 / lambda_1| ~ 0.91 per step.
    params, target, eigenvalues = negative_dominated_model
    matvec, n = mp.hessian_matvec(params, target)
    v0 = jax.random.normal(jax.random.key(0), (n,))
    estimates = np.asarray(mp.power_iteration(matvec, v0, 400))
    assert estimates.shape == (400,)
    assert estimates[-1] < 0
    assert abs(estimates[-1] - eigenvalues[0]) <= 1e-8 * abs(eigenvalues[0])


def test_lanczos_rank_one_breakdown(scalar_minimum):
    params, target = scalar_minimum
    matvec, n = mp.hessian_matvec(params, target)
    expected = float(mp.balanced_sharpness(jnp.array([0.7, 0.3]), 3))
    values = np.asarray(mp.lanczos_top_eigenvalues(matvec, n, k=n, num_iter=n))
    assert np.all(np.isfinite(values))
    assert abs(values[0] - expected) <= 1e-12 * expected
    assert np.max(np.abs(values[1:])) <= ZERO_ATOL * expected


def test_lanczos_rank_one_short_run(scalar_minimum):
    # With two steps the Krylov space of a rank-one operator is exhausted after one.
    params, target = scalar_minimum
    matvec, n = mp.hessian_matvec(params, target)
    expected = float(mp.balanced_sharpness(jnp.array([0.7, 0.3]), 3))
    top = float(mp.lanczos_top_eigenvalues(matvec, n, num_iter=2)[0])
    assert abs(top - expected) <= 1e-12 * expected


def test_lanczos_tridiagonal_restart_orthonormal(scalar_minimum):
    params, target = scalar_minimum
    matvec, n = mp.hessian_matvec(params, target)
    alpha, beta, basis = mp.lanczos_tridiagonal(matvec, jnp.ones(n), n, jax.random.key(0))
    assert alpha.shape == (n,)
    assert beta.shape == (n - 1,)
    assert np.max(np.abs(basis @ basis.T - np.eye(n))) <= 1e-14
    assert np.any(np.asarray(beta) == 0.0)


def test_lanczos_full_dimension_exact(small_model):
    # num_iter = dim: the Ritz values are the whole spectrum of the dense Hessian.
    params, target, H = small_model
    reference = np.linalg.eigvalsh(H)[::-1]
    matvec, n = mp.hessian_matvec(params, target)
    values = np.asarray(mp.lanczos_top_eigenvalues(matvec, n, k=n, num_iter=n))
    scale = np.max(np.abs(reference))
    assert np.max(np.abs(values - reference)) <= 1e-10 * scale


def test_lanczos_repeated_eigenvalues_exact():
    # Multiplicities exhaust the Krylov space early; the restarts must recover every copy.
    spectrum = np.array([5.0, 5.0, 5.0, 1.0, 1.0, 0.0, 0.0, -7.0, -7.0, 2.5])
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(10, 10)))
    A = jnp.asarray(Q @ np.diag(spectrum) @ Q.T)
    values = np.asarray(mp.lanczos_top_eigenvalues(lambda v: A @ v, 10, k=10, num_iter=10))
    np.testing.assert_allclose(values, np.sort(spectrum)[::-1], rtol=0, atol=1e-12)


def test_lanczos_float32_dtype():
    A = jnp.diag(jnp.arange(1.0, 21.0, dtype=jnp.float32))
    values = mp.lanczos_top_eigenvalues(lambda v: A @ v, 20, k=2, num_iter=20, dtype=jnp.float32)
    assert values.dtype == jnp.float32
    np.testing.assert_allclose(values, [20.0, 19.0], rtol=1e-5)


def test_lanczos_default_key_deterministic():
    A = jnp.asarray(np.random.default_rng(1).normal(size=(12, 12)))
    A = A + A.T
    first = mp.lanczos_top_eigenvalues(lambda v: A @ v, 12, k=2, num_iter=8)
    second = mp.lanczos_top_eigenvalues(lambda v: A @ v, 12, k=2, num_iter=8, key=jax.random.key(0))
    third = mp.lanczos_top_eigenvalues(lambda v: A @ v, 12, k=2, num_iter=8, key=jax.random.key(1))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(np.asarray(first), np.asarray(third))


def test_hessian_top_dense_matches_eigh(small_model):
    params, target, H = small_model
    reference = np.linalg.eigvalsh(H)[::-1]
    dense = np.asarray(mp.hessian_top_eigenvalues(params, target, k=4, method="dense"))
    auto = np.asarray(mp.hessian_top_eigenvalues(params, target, k=4))
    np.testing.assert_allclose(dense, reference[:4], rtol=1e-12)
    np.testing.assert_array_equal(auto, dense)


def test_sharpness_is_algebraic_top(negative_dominated_model):
    params, target, eigenvalues = negative_dominated_model
    assert abs(float(mp.sharpness(params, target)) - eigenvalues[-1]) <= 1e-12 * eigenvalues[-1]
