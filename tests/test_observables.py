"""Tests for mpdln_lib.observables on hand-made inputs with known values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpdln_lib as mp

EXACT = 1e-14


def scalar_params(*pathways):
    """Build scalar-model parameters from per-pathway lists of layer values."""
    return tuple(jnp.asarray(layers, dtype=jnp.float64).reshape(-1, 1, 1) for layers in pathways)


def test_strengths_scalar_path_products():
    params = scalar_params([0.5, 2.0, 3.0], [1.0, -2.0], [0.1])
    p = mp.strengths(params, mp.scalar_target(1.0))
    assert p.shape == (3, 1)
    np.testing.assert_allclose(p[:, 0], [3.0, -2.0, 0.1], rtol=EXACT)


def test_strengths_matrix_matches_numpy():
    network = mp.Network(depths=(2, 3), width=3)
    params = mp.init_random(jax.random.key(4), network, 1.0)
    target = mp.make_target([1.0, 2.0, 3.0], key=jax.random.key(5))
    U, V = np.asarray(target.left), np.asarray(target.right)
    expected = np.empty((2, 3))
    for k, weights in enumerate(params):
        omega = np.asarray(weights[-1])
        for layer in np.asarray(weights)[-2::-1]:
            omega = omega @ layer
        for i in range(3):
            expected[k, i] = U[:, i] @ omega @ V[:, i]
    np.testing.assert_allclose(mp.strengths(params, target), expected, rtol=0, atol=1e-13)


def test_shares_values():
    p = jnp.array([[1.0, 3.0], [3.0, 1.0]])
    np.testing.assert_allclose(mp.shares(p), [[0.25, 0.75], [0.75, 0.25]], rtol=EXACT)


def test_shares_zero_total_is_uniform():
    p = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])
    s = mp.shares(p)
    np.testing.assert_allclose(s[:, 0], [1 / 3] * 3, rtol=EXACT)
    np.testing.assert_allclose(s[:, 1], [1 / 3] * 3, rtol=EXACT)


def test_shares_last_axis_batched():
    p = jnp.array([[0.2, 0.6], [1.0, 1.0]])  # two records of one mode, K = 2
    np.testing.assert_allclose(mp.shares(p, axis=-1), [[0.25, 0.75], [0.5, 0.5]], rtol=EXACT)


@pytest.mark.parametrize(
    "p, expected",
    [
        ([1.0, 0.0, 0.0], 1.0),
        ([0.5, 0.5], 2.0),
        ([0.25, 0.25, 0.25, 0.25], 4.0),
        ([2.0, 1.0], 9.0 / 5.0),
        ([1.0, -1.0], 2.0),
        ([0.0, 0.0], 0.0),
    ],
)
def test_effective_pathways_values(p, expected):
    value = mp.effective_pathways(jnp.asarray(p), axis=-1)
    assert abs(float(value) - expected) <= EXACT


def test_effective_pathways_default_axis():
    p = jnp.array([[1.0, 0.5], [0.0, 0.5]])  # K = 2 rows, d = 2 modes
    np.testing.assert_allclose(mp.effective_pathways(p), [1.0, 2.0], rtol=EXACT)


def test_layer_balance_scalar_gaps():
    params = scalar_params([1.0, 2.0, 3.0], [0.5])
    gaps = mp.layer_balance(params)
    np.testing.assert_allclose(gaps[0][:, 0, 0], [3.0, 5.0], rtol=EXACT)
    assert gaps[1].shape == (0, 1, 1)


def test_layer_balance_matrix_matches_numpy():
    network = mp.Network(depths=(3,), width=2)
    (weights,) = mp.init_random(jax.random.key(9), network, 1.0)
    W = np.asarray(weights)
    expected = np.stack([W[l + 1].T @ W[l + 1] - W[l] @ W[l].T for l in range(2)])
    np.testing.assert_allclose(mp.layer_balance((weights,))[0], expected, rtol=0, atol=EXACT)


def test_max_imbalance_value():
    params = scalar_params([1.0, 2.0, 3.0], [1.0, -1.5])
    assert float(mp.max_imbalance(params)) == 5.0


def test_max_imbalance_depth_one_is_zero():
    params = scalar_params([2.0], [3.0])
    assert float(mp.max_imbalance(params)) == 0.0


def test_pathway_potential_depths():
    p = jnp.array([0.25, 4.0])
    np.testing.assert_allclose(mp.pathway_potential(p, 1), [0.25, 4.0], rtol=EXACT)
    np.testing.assert_allclose(mp.pathway_potential(p, 2), np.log([0.25, 4.0]), rtol=EXACT)
    np.testing.assert_allclose(mp.pathway_potential(p, 4), [2.0, 0.5], rtol=EXACT)


def test_invariant_z_values():
    # L = 4: phi(p) = p^(-1/2) is (2, 0.5, 1), and z_k = phi(p_1) - phi(p_k).
    p = jnp.array([0.25, 4.0, 1.0])
    z = mp.invariant_z(p, 4)
    assert z.shape == (2,)
    np.testing.assert_allclose(z, [2.0 - 0.5, 2.0 - 1.0], rtol=EXACT)


def test_invariant_z_batched_shape():
    p = jnp.ones((5, 7, 2))
    assert mp.invariant_z(p, 3).shape == (5, 7, 1)


def test_invariant_z_depth_two_log_ratio():
    p = jnp.array([[0.5, 0.125]])
    np.testing.assert_allclose(mp.invariant_z(p, 2), [[np.log(4.0)]], rtol=EXACT)


def test_mode_matrices_diagonal_is_strengths():
    network = mp.Network.uniform(3, 2, width=3)
    target = mp.make_target([2.0, 1.0, 0.5], jax.random.key(7))
    params = mp.init_random(jax.random.key(8), network, 0.7)
    modes = np.asarray(mp.mode_matrices(params, target))
    diagonal = np.diagonal(modes, axis1=1, axis2=2)
    np.testing.assert_allclose(diagonal, np.asarray(mp.strengths(params, target)), atol=1e-14)


def test_mode_matrices_match_explicit_products():
    network = mp.Network(depths=(2, 3), width=2)
    target = mp.make_target([1.5, 0.5], jax.random.key(3))
    params = mp.init_random(jax.random.key(4), network, 1.0)
    U, V = np.asarray(target.left), np.asarray(target.right)
    for k, weights in enumerate(params):
        omega = np.eye(2)
        for layer in np.asarray(weights):
            omega = layer @ omega
        np.testing.assert_allclose(np.asarray(mp.mode_matrices(params, target))[k], U.T @ omega @ V, atol=1e-13)


def test_mode_matrices_aligned_off_diagonal_zero():
    network = mp.Network.uniform(2, 3, width=3)
    target = mp.make_target([3.0, 2.0, 1.0], jax.random.key(5))
    params = mp.init_aligned(network, [[0.9, 0.5, 0.2], [0.3, 0.6, 0.8]], target)
    modes = np.asarray(mp.mode_matrices(params, target))
    off_diagonal = modes * (1 - np.eye(3))[None]
    assert np.abs(off_diagonal).max() < 1e-14
