"""Tests for mpdln_lib.models: architecture, targets, initialisations, forward map, loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpdln_lib as mp

# Forward maps and losses are sums of products of O(1) numbers, so float64 rounding stays below 1e-13.
EXACT = 1e-13


def numpy_path_product(layers: np.ndarray) -> np.ndarray:
    """Multiply layers ``W_L ... W_1`` with NumPy; ``layers[0]`` acts first."""
    product = np.eye(layers.shape[-1])
    for layer in layers:
        product = layer @ product
    return product


@pytest.fixture
def matrix_params():
    """Random parameters of a 3-wide network with pathways of depths 1, 2 and 4."""
    network = mp.Network(depths=(1, 2, 4), width=3)
    return network, mp.init_random(jax.random.key(0), network, 0.9)


def test_network_uniform_properties():
    network = mp.Network.uniform(3, 4, width=2)
    assert network.depths == (4, 4, 4)
    assert network.num_pathways == 3
    assert network.depth == 4
    assert network.is_uniform
    assert network.num_params == 3 * 4 * 2 * 2


def test_network_mixed_depth_raises():
    network = mp.Network(depths=(3, 5, 7))
    assert not network.is_uniform
    assert network.num_params == 15
    with pytest.raises(ValueError, match=r"\(3, 5, 7\)"):
        network.depth


def test_network_accepts_numpy_integers():
    network = mp.Network(depths=(np.int64(2), np.int32(3)), width=np.int64(2))
    assert network.depths == (2, 3)
    assert network.width == 2


def test_path_product_matches_numpy(matrix_params):
    network, params = matrix_params
    for weights in params:
        expected = numpy_path_product(np.asarray(weights))
        np.testing.assert_allclose(mp.path_product(weights), expected, rtol=0, atol=EXACT)


def test_path_product_scalar():
    weights = jnp.array([0.5, -2.0, 3.0]).reshape(3, 1, 1)
    assert mp.path_product(weights).shape == (1, 1)
    assert float(mp.path_product(weights)[0, 0]) == -3.0


def test_path_product_order_matters():
    # Layer 1 acts first: the product is W_2 W_1, which differs from W_1 W_2.
    w1 = np.array([[1.0, 2.0], [0.0, 1.0]])
    w2 = np.array([[0.0, 1.0], [1.0, 0.0]])
    product = mp.path_product(jnp.stack([w1, w2]))
    np.testing.assert_array_equal(product, w2 @ w1)
    assert not np.array_equal(w2 @ w1, w1 @ w2)


def test_end_to_end_matches_numpy(matrix_params):
    network, params = matrix_params
    omegas = [numpy_path_product(np.asarray(w)) for w in params]
    np.testing.assert_allclose(mp.path_products(params), np.stack(omegas), rtol=0, atol=EXACT)
    np.testing.assert_allclose(mp.end_to_end(params), sum(omegas), rtol=0, atol=EXACT)


def test_loss_matches_numpy(matrix_params):
    network, params = matrix_params
    target = mp.make_target(jnp.array([2.0, 1.0, 0.5]), key=jax.random.key(3))
    residual = sum(numpy_path_product(np.asarray(w)) for w in params) - np.asarray(target.matrix)
    expected = 0.5 * np.sum(residual**2)
    assert abs(float(mp.loss(params, target)) - expected) <= EXACT * expected


def test_loss_scalar_value():
    # f = 2 * 3 + 1 * 1 = 7 and y = 4, so the loss is (7 - 4)^2 / 2 = 4.5 (a sum, not a mean).
    params = (jnp.array([2.0, 3.0]).reshape(2, 1, 1), jnp.array([1.0, 1.0]).reshape(2, 1, 1))
    assert float(mp.loss(params, mp.scalar_target(4.0))) == 4.5


def test_loss_zero_at_minimum():
    network = mp.Network.uniform(2, 3, width=2)
    target = mp.make_target(jnp.array([1.5, 0.5]), key=jax.random.key(1))
    params = mp.init_from_strengths(network, jnp.array([[1.0, 0.2], [0.5, 0.3]]), target)
    assert float(mp.loss(params, target)) <= 1e-28


def test_make_target_aligned_is_diagonal():
    target = mp.make_target([3.0, 2.0, 1.0])
    np.testing.assert_array_equal(target.matrix, np.diag([3.0, 2.0, 1.0]))
    np.testing.assert_array_equal(target.left, np.eye(3))
    np.testing.assert_array_equal(target.right, np.eye(3))
    assert target.width == 3


def test_make_target_keyed_svd():
    s = np.array([3.0, 2.0, 0.5, 0.1])
    target = mp.make_target(s, key=jax.random.key(7))
    U, V = np.asarray(target.left), np.asarray(target.right)
    np.testing.assert_allclose(U.T @ U, np.eye(4), rtol=0, atol=EXACT)
    np.testing.assert_allclose(V.T @ V, np.eye(4), rtol=0, atol=EXACT)
    np.testing.assert_allclose(U @ np.diag(s) @ V.T, target.matrix, rtol=0, atol=EXACT)
    np.testing.assert_allclose(np.linalg.svd(np.asarray(target.matrix), compute_uv=False), s, rtol=1e-12)
    assert not np.allclose(U, np.eye(4))


def test_scalar_target():
    target = mp.scalar_target(1.7)
    assert target.matrix.shape == (1, 1)
    assert float(target.matrix[0, 0]) == 1.7


@pytest.mark.parametrize("key", [None, 5])
def test_init_aligned_strengths_and_alignment(key):
    network = mp.Network.uniform(2, 3, width=3)
    target = mp.make_target([2.0, 1.0, 0.5], key=None if key is None else jax.random.key(key))
    scales = np.array([[0.3, 0.5, 0.7], [0.2, 0.4, 0.6]])
    params = mp.init_aligned(network, scales, target)
    modes = np.einsum("ai,kab,bj->kij", target.left, mp.path_products(params), target.right)
    off_diagonal = modes * (1 - np.eye(3))
    np.testing.assert_allclose(mp.strengths(params, target), scales**3, rtol=1e-13)
    assert np.max(np.abs(off_diagonal)) <= EXACT
    assert float(mp.max_imbalance(params)) <= EXACT


def test_init_aligned_per_pathway_scales():
    network = mp.Network(depths=(2, 4), width=2)
    params = mp.init_aligned(network, [0.5, 0.8], mp.make_target([1.0, 1.0]))
    expected = np.array([[0.25, 0.25], [0.8**4, 0.8**4]])
    np.testing.assert_allclose(mp.strengths(params, mp.make_target([1.0, 1.0])), expected, rtol=1e-14)


def test_init_from_strengths_signs_and_depths():
    network = mp.Network(depths=(1, 3, 4))
    target = mp.scalar_target(1.0)
    p = np.array([0.5, -0.25, 0.75])
    params = mp.init_from_strengths(network, p, target)
    np.testing.assert_allclose(mp.strengths(params, target)[:, 0], p, rtol=1e-14)
    # The sign sits on layer 1 and every layer has magnitude |p|^(1/L).
    assert float(params[1][0, 0, 0]) < 0
    np.testing.assert_allclose(np.abs(params[2][:, 0, 0]), 0.75**0.25, rtol=1e-14)


def test_init_from_strengths_global_minimum():
    network = mp.Network.uniform(3, 2, width=2)
    target = mp.make_target([1.2, 0.6], key=jax.random.key(2))
    p = np.array([[0.2, 0.1], [0.4, 0.2], [0.6, 0.3]])
    params = mp.init_from_strengths(network, p, target)
    np.testing.assert_allclose(mp.end_to_end(params), target.matrix, rtol=0, atol=EXACT)


def test_init_random_variance():
    network = mp.Network.uniform(2, 3, width=32)
    scale = 0.5
    params = mp.init_random(jax.random.key(11), network, scale)
    weights = np.concatenate([np.ravel(w) for w in params])
    # 6144 draws: the sample std has relative spread 1/sqrt(2 * 6144) ~ 0.9%, so 3% is over 3 sigma.
    assert abs(weights.std() / (scale / np.sqrt(32)) - 1) < 0.03
    assert abs(weights.mean()) < 0.01


def test_init_random_same_seed_bitwise():
    network = mp.Network(depths=(2, 3), width=3)
    first = mp.init_random(jax.random.key(42), network, 0.1)
    second = mp.init_random(jax.random.key(42), network, 0.1)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_init_random_other_seed_differs():
    network = mp.Network(depths=(2, 3), width=3)
    first = mp.init_random(jax.random.key(42), network, 0.1)
    second = mp.init_random(jax.random.key(43), network, 0.1)
    for a, b in zip(first, second):
        assert not np.any(np.asarray(a) == np.asarray(b))


def test_init_random_pathways_independent():
    network = mp.Network.uniform(2, 2, width=2)
    params = mp.init_random(jax.random.key(0), network, 1.0)
    assert not np.any(np.asarray(params[0]) == np.asarray(params[1]))


def test_check_params_returns_arrays():
    network = mp.Network(depths=(1, 2), width=2)
    params = ([[[1.0, 0.0], [0.0, 1.0]]], np.zeros((2, 2, 2)))
    checked = network.check_params(params)
    assert isinstance(checked, tuple)
    assert checked[1].shape == (2, 2, 2)
    assert checked[0].dtype == jnp.float64


def test_target_from_matrix_reconstructs():
    matrix = np.array([[2.0, 1.0, 0.0], [0.5, -1.0, 0.3], [0.0, 0.2, 0.7]])
    target = mp.target_from_matrix(matrix)
    rebuilt = (np.asarray(target.left) * np.asarray(target.singular_values)) @ np.asarray(target.right).T
    np.testing.assert_allclose(rebuilt, matrix, atol=1e-14)
    np.testing.assert_array_equal(np.asarray(target.matrix), matrix)


def test_target_from_matrix_sorted_descending():
    target = mp.target_from_matrix(np.diag([1.0, 3.0, 2.0]))
    np.testing.assert_allclose(np.asarray(target.singular_values), [3.0, 2.0, 1.0], atol=1e-15)


def test_target_from_matrix_orthogonal_bases():
    target = mp.target_from_matrix(np.arange(16.0).reshape(4, 4) ** 0.5)
    for basis in (target.left, target.right):
        np.testing.assert_allclose(np.asarray(basis).T @ np.asarray(basis), np.eye(4), atol=1e-14)


@pytest.mark.parametrize(
    "matrix, fragment",
    [
        (np.ones((2, 3)), "(2, 3)"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "nan"),
        (np.ones(3), "(3,)"),
    ],
)
def test_target_from_matrix_rejects_bad_input(matrix, fragment):
    with pytest.raises(ValueError, match="matrix") as error:
        mp.target_from_matrix(matrix)
    assert fragment in str(error.value)


def test_keyed_target_bases_differ():
    target = mp.make_target([3.0, 2.0, 1.0], jax.random.key(11))
    left, right = np.asarray(target.left), np.asarray(target.right)
    assert np.abs(left - right).max() > 0.1
    assert np.abs(np.asarray(target.matrix) - np.asarray(target.matrix).T).max() > 0.1
