"""Tests for mpdln_lib.theory: every closed form against a dense Hessian, a simulation or its defining equation."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpdln_lib as mp

# Closed-form sharpness against eigh of the dense float64 Hessian: both are
# exact up to rounding, observed agreement is ~1e-15 relative.
HESSIAN_RTOL = 1e-10
Y = 1.7
"""Target value for the scalar minima; not 1, so that the power of y in each formula is tested."""

DEPTHS = [1, 2, 3, 4, 6, 20]
NUM_PATHWAYS = [1, 2, 3, 4, 8]


def random_splits(rng: np.random.Generator, count: int, num_pathways: int, y: float) -> np.ndarray:
    """Draw ``count`` positive splits of ``y`` over ``num_pathways`` pathways (Dirichlet(1))."""
    return y * rng.dirichlet(np.ones(num_pathways), size=count)


@functools.cache
def scalar_minima(spectra, num_pathways: int, depth: int):
    """Build balanced scalar minima for one (K, L) and the dense Hessian spectrum at each.

    Point 0 is the equal split, point 1 the single path (y, 0, ..., 0) and
    points 2 to 15 random positive splits. Cached so the grid tests of one
    (K, L) share one compile and one set of Hessians.
    """
    network = mp.Network.uniform(num_pathways, depth)
    target = mp.scalar_target(Y)
    rng = np.random.default_rng(1000 * num_pathways + depth)
    splits = np.concatenate(
        [
            np.full((1, num_pathways), Y / num_pathways),
            np.eye(1, num_pathways) * Y,
            random_splits(rng, 14, num_pathways, Y),
        ]
    )
    points = [mp.init_from_strengths(network, p, target) for p in splits]
    return splits, spectra(points, target)


grid = pytest.mark.parametrize(
    "num_pathways, depth", [(K, L) for K in NUM_PATHWAYS for L in DEPTHS], ids=lambda v: str(v)
)


@grid
def test_equal_split_sharpness_hessian(num_pathways, depth, spectra):
    _, spectra = scalar_minima(spectra, num_pathways, depth)
    expected = mp.equal_split_sharpness(Y, depth, num_pathways)
    assert abs(spectra[0, -1] - expected) <= HESSIAN_RTOL * expected


@grid
def test_single_path_sharpness_hessian(num_pathways, depth, spectra):
    _, spectra = scalar_minima(spectra, num_pathways, depth)
    expected = mp.single_path_sharpness(Y, depth, num_pathways)
    assert abs(spectra[1, -1] - expected) <= HESSIAN_RTOL * expected


@grid
def test_balanced_sharpness_hessian(num_pathways, depth, spectra):
    splits, spectra = scalar_minima(spectra, num_pathways, depth)
    expected = np.asarray(mp.balanced_sharpness(jnp.asarray(splits), depth))
    np.testing.assert_allclose(spectra[:, -1], expected, rtol=HESSIAN_RTOL)


@grid
def test_scalar_minimum_hessian_rank_one(num_pathways, depth, spectra):
    # At a global minimum H = J^T J, and J of a scalar output has rank one.
    _, spectra = scalar_minima(spectra, num_pathways, depth)
    if spectra.shape[1] == 1:
        pytest.skip("a one-parameter Hessian has no second eigenvalue")
    assert np.max(np.abs(spectra[:, :-1]) / spectra[:, -1:]) <= 1e-12


@pytest.mark.parametrize(
    "depths, splits",
    [
        ((1, 2, 3), [[0.2, 0.5, 1.0], [1.5, 0.1, 0.1], [-0.4, 0.6, 1.5]]),
        ((3, 5, 7), [[0.3, 0.3, 1.1], [1.0, 0.5, 0.2], [-0.2, 1.2, 0.7]]),
        ((2, 20), [[1.2, 0.5], [0.1, 1.6], [2.0, -0.3]]),
        ((4, 6, 1, 3), [[0.4, 0.4, 0.4, 0.5], [1.0, 0.0, 0.7, 0.0], [0.9, -0.1, 0.3, 0.6]]),
    ],
    ids=str,
)
def test_balanced_sharpness_mixed_depths(depths, splits, spectra):
    network = mp.Network(depths=depths)
    target = mp.scalar_target(Y)
    splits = np.asarray(splits)
    assert np.allclose(splits.sum(axis=1), Y)
    eigenvalues = spectra([mp.init_from_strengths(network, p, target) for p in splits], target)
    expected = np.asarray(mp.balanced_sharpness(jnp.asarray(splits), depths))
    np.testing.assert_allclose(eigenvalues[:, -1], expected, rtol=HESSIAN_RTOL)


def matrix_minimum(spectra, num_pathways, depth, mode_values, key):
    """Build the balanced aligned matrix minimum with per-pathway mode values and its spectrum."""
    mode_values = np.asarray(mode_values)
    network = mp.Network.uniform(num_pathways, depth, width=mode_values.shape[1])
    target = mp.make_target(mode_values.sum(axis=0), key=key)
    params = mp.init_from_strengths(network, mode_values, target)
    return network, spectra([params], target)[0]


MATRIX_CASES = [
    (2, 3, [[1.0, 0.3, 0.0], [0.5, 0.9, 0.4]], None),
    (2, 3, [[1.0, 0.3, 0.0], [0.5, 0.9, 0.4]], 21),
    (3, 4, [[0.8, 0.1], [0.2, 0.6], [0.5, 0.05]], 22),
    (2, 2, [[1.2, 0.4, 0.7], [0.3, 0.2, 0.1]], 23),
]


@pytest.mark.parametrize("num_pathways, depth, mode_values, key", MATRIX_CASES)
def test_matrix_spectrum_nonzero_multiset(num_pathways, depth, mode_values, key, spectra):
    _, spectrum = matrix_minimum(spectra, num_pathways, depth, mode_values, None if key is None else jax.random.key(key))
    mu = np.sort(np.ravel(mp.matrix_hessian_spectrum(jnp.asarray(mode_values), depth)))
    d2 = mu.size
    np.testing.assert_allclose(spectrum[-d2:], mu, rtol=HESSIAN_RTOL)


@pytest.mark.parametrize("num_pathways, depth, mode_values, key", MATRIX_CASES)
def test_matrix_spectrum_rest_zero(num_pathways, depth, mode_values, key, spectra):
    _, spectrum = matrix_minimum(spectra, num_pathways, depth, mode_values, None if key is None else jax.random.key(key))
    d2 = len(mode_values[0]) ** 2
    assert np.max(np.abs(spectrum[:-d2])) <= 1e-12 * spectrum[-1]


@pytest.mark.parametrize("num_pathways, depth, mode_values, key", MATRIX_CASES)
def test_matrix_sharpness_max_lambda(num_pathways, depth, mode_values, key, spectra):
    _, spectrum = matrix_minimum(spectra, num_pathways, depth, mode_values, None if key is None else jax.random.key(key))
    s = np.asarray(mode_values)
    lambdas = np.asarray(mp.balanced_sharpness(jnp.asarray(s.T), depth))
    assert abs(spectrum[-1] - lambdas.max()) <= HESSIAN_RTOL * spectrum[-1]


def test_matrix_spectrum_diagonal_and_symmetry():
    s = jnp.array([[1.0, 0.3, 0.0], [0.5, 0.9, 0.4]])
    mu = np.asarray(mp.matrix_hessian_spectrum(s, 3))
    np.testing.assert_allclose(np.diag(mu), 3 * np.sum(np.asarray(s) ** (4 / 3), axis=0), rtol=1e-14)
    np.testing.assert_allclose(mu, mu.T, rtol=1e-14)


def rescaled_layers(rng, params, spread):
    """Multiply the layers of each pathway by random factors whose product is 1 (same minimum)."""
    out = []
    for weights in params:
        log_c = rng.normal(0.0, spread, size=weights.shape[0])
        c = np.exp(log_c - log_c.mean())
        out.append(weights * jnp.asarray(c)[:, None, None])
    return tuple(out)


FLAT_CASES = [(2, 3), (3, 4), (4, 6), (2, 20)]


@functools.cache
def random_minima(spectra, num_pathways: int, depth: int):
    """Build 16 balanced (some mixed-sign) and 16 unbalanced minima with their spectra and ||grad f||^2."""
    rng = np.random.default_rng(7 * num_pathways + depth)
    network = mp.Network.uniform(num_pathways, depth)
    target = mp.scalar_target(Y)
    splits = random_splits(rng, 16, num_pathways, Y)
    # Four mixed-sign splits: one pathway negative, the others carry y plus its size.
    splits[:4, 0] = -0.3 * splits[:4, 0]
    splits[:4, 1:] *= (Y - splits[:4, :1]) / splits[:4, 1:].sum(axis=1, keepdims=True)
    balanced = [mp.init_from_strengths(network, p, target) for p in splits]
    starts = [mp.init_from_strengths(network, np.full(num_pathways, Y / num_pathways), target)] * 8 + balanced[4:12]
    unbalanced = [rescaled_layers(rng, params, 0.5) for params in starts]
    grad_norms = [
        sum(float(jnp.sum((jnp.prod(w) / w) ** 2)) for w in params) for params in unbalanced
    ]
    return (
        splits,
        spectra(balanced, target)[:, -1],
        spectra(unbalanced, target)[:, -1],
        np.asarray(grad_norms),
    )


@pytest.mark.parametrize("num_pathways, depth", FLAT_CASES)
def test_equal_split_flattest_balanced(num_pathways, depth, spectra):
    splits, balanced, _, _ = random_minima(spectra, num_pathways, depth)
    assert np.allclose(splits.sum(axis=1), Y)
    assert np.any(splits < 0)
    assert balanced.min() > mp.equal_split_sharpness(Y, depth, num_pathways) * (1 + 1e-10)


@pytest.mark.parametrize("num_pathways, depth", FLAT_CASES)
def test_equal_split_flattest_unbalanced(num_pathways, depth, spectra):
    _, _, unbalanced, _ = random_minima(spectra, num_pathways, depth)
    assert unbalanced.min() > mp.equal_split_sharpness(Y, depth, num_pathways) * (1 + 1e-10)


@pytest.mark.parametrize("num_pathways, depth", FLAT_CASES)
def test_unbalanced_sharpness_grad_norm(num_pathways, depth, spectra):
    # At any global minimum the top eigenvalue is ||grad f||^2 = sum_k sum_l p_k^2 / w_{k,l}^2.
    _, _, unbalanced, grad_norms = random_minima(spectra, num_pathways, depth)
    np.testing.assert_allclose(unbalanced, grad_norms, rtol=HESSIAN_RTOL)


def test_depth_one_neutral(rng, spectra):
    # A dormant one-layer pathway still has gradient 1, so every split has sharpness K.
    network = mp.Network.uniform(3, 1)
    target = mp.scalar_target(Y)
    splits = np.concatenate([random_splits(rng, 6, 3, Y), [[Y, 0.0, 0.0], [2.5, -0.3, -0.5]]])
    eigenvalues = spectra([mp.init_from_strengths(network, p, target) for p in splits], target)
    np.testing.assert_allclose(eigenvalues[:, -1], 3.0, rtol=HESSIAN_RTOL)


def test_depth_two_neutral(rng, spectra):
    network = mp.Network.uniform(3, 2)
    target = mp.scalar_target(Y)
    splits = np.concatenate([random_splits(rng, 7, 3, Y), [[Y, 0.0, 0.0]]])
    eigenvalues = spectra([mp.init_from_strengths(network, p, target) for p in splits], target)
    np.testing.assert_allclose(eigenvalues[:, -1], 2 * Y, rtol=HESSIAN_RTOL)


def test_depth_two_unbalanced_sharper(rng, spectra):
    # The neutrality at L = 2 holds for balanced minima only: rescaling layers sharpens.
    network = mp.Network.uniform(3, 2)
    target = mp.scalar_target(Y)
    params = mp.init_from_strengths(network, np.full(3, Y / 3), target)
    eigenvalues = spectra([rescaled_layers(rng, params, 0.5)], target)
    assert eigenvalues[0, -1] > 2 * Y * (1 + 1e-6)


def test_sharpness_example_values():
    # y = 1, L = 4, K = 2: single path 4, equal split 4 / sqrt(2) = 2.828...
    assert mp.single_path_sharpness(1.0, 4) == 4.0
    assert abs(mp.equal_split_sharpness(1.0, 4, 2) - 2 * np.sqrt(2)) <= 1e-15
    assert round(mp.equal_split_sharpness(1.0, 4, 2), 3) == 2.828


@pytest.mark.parametrize("num_pathways, depth", [(2, 2), (2, 3), (3, 4), (8, 6), (4, 20)])
def test_sharpness_ratio_matches_formulas(num_pathways, depth):
    ratio = mp.equal_split_sharpness(Y, depth, num_pathways) / mp.single_path_sharpness(Y, depth)
    assert abs(mp.sharpness_ratio(num_pathways, depth) - ratio) <= 1e-14


def test_sharpness_ratio_limits():
    assert mp.sharpness_ratio(5, 2) == 1.0
    assert abs(mp.sharpness_ratio(2, 4) - 2**-0.5) <= 1e-15
    # K^(2/L - 1) -> 1/K as L grows; at L = 1000 the gap is K^(2/L) - 1 ~ 1.4e-3 for K = 2.
    assert abs(2 * mp.sharpness_ratio(2, 1000) - 1) < 2e-3


def test_sharpness_ratio_decreases_with_depth():
    ratios = [mp.sharpness_ratio(3, L) for L in (2, 3, 4, 6, 20)]
    assert np.all(np.diff(ratios) < 0)


@pytest.mark.parametrize("depth", [1, 2])
def test_gf_limit_shallow_closed_forms(depth):
    p0 = np.array([0.3, 0.1, 0.05])
    limit = mp.gf_limit(p0, 2.0, depth)
    expected = p0 + (2.0 - p0.sum()) / 3 if depth == 1 else 2.0 * p0 / p0.sum()
    np.testing.assert_allclose(limit, expected, rtol=1e-15)


@pytest.mark.parametrize("depth", [3, 4, 6, 20])
def test_gf_limit_sums_to_target(depth):
    p0 = np.array([0.02, 0.015, 0.001]) ** (depth / 3)
    limit = mp.gf_limit(p0, 1.3, depth)
    assert abs(limit.sum() - 1.3) <= 1e-13


@pytest.mark.parametrize("depth", [3, 4, 6, 20])
def test_gf_limit_conserves_potential(depth):
    p0 = np.array([0.5, 0.4, 0.3]) ** depth
    limit = mp.gf_limit(p0, 1.3, depth)
    z0 = np.asarray(mp.invariant_z(jnp.asarray(p0), depth))
    z1 = np.asarray(mp.invariant_z(jnp.asarray(limit), depth))
    np.testing.assert_allclose(z1, z0, rtol=1e-10)


def test_gf_limit_winner_takes_all():
    # From per-layer scales 0.05 and 0.04 at L = 4, the loser freezes near its start.
    limit = mp.gf_limit(np.array([0.05, 0.04]) ** 4, 1.0, 4)
    assert limit[1] < 1e-4
    assert limit[0] > 1 - 1e-4


def test_gf_learning_time_formulas():
    assert abs(mp.gf_learning_time(0.1, 2.0, 4) - 0.1**-2 / (2 * 2.0)) <= 1e-12
    assert abs(mp.gf_learning_time(0.1, 2.0, 2) - np.log(2.0 / 0.01) / 4.0) <= 1e-15


def test_gd_end_strength_sharpness_at_edge():
    etas = np.array([0.7, 0.75, 0.8, 0.83])
    p = mp.gd_end_strength(1.0, 3, etas)
    split = jnp.asarray(np.stack([p, 1.0 - p], axis=1))
    np.testing.assert_allclose(mp.balanced_sharpness(split, 3), 2.0 / etas, rtol=1e-12)


def test_gd_end_strength_range_and_order():
    etas = np.array([0.7, 0.75, 0.8, 0.83])
    p = mp.gd_end_strength(1.0, 3, etas)
    assert p.shape == (4,)
    assert np.all(p > 0.5)
    assert np.all(p < 1.0)
    assert np.all(np.diff(p) < 0)


def test_gd_end_strength_below_window():
    # eta <= 2 / S_1 = 2/3: the single-path minimum is stable and the leader keeps y.
    assert float(mp.gd_end_strength(1.0, 3, 0.6)) == 1.0


@pytest.mark.parametrize("depth", [3, 4, 5, 6, 10, 20])
def test_gamma_wcr_defining_equation(depth):
    # Find the worst overshoot on a fine grid independently, then step once more: it lands on 0.
    gamma = mp.gamma_wcr(depth)
    u = np.linspace(0.0, 1.0, 200_001)[1:-1]
    peak = mp.worst_case_return_map(u, gamma, depth).max()
    assert abs(mp.worst_case_return_map(np.float64(peak), gamma, depth)) <= 1e-7


@pytest.mark.parametrize("depth", [3, 6, 20])
def test_gamma_wcr_sign_change(depth):
    gamma = mp.gamma_wcr(depth)
    u = np.linspace(0.0, 1.0, 200_001)[1:-1]

    def landing(g):
        return mp.worst_case_return_map(np.float64(mp.worst_case_return_map(u, g, depth).max()), g, depth)

    assert landing(gamma * (1 - 1e-4)) > 0
    assert landing(gamma * (1 + 1e-4)) < 0


def test_gamma_wcr_above_two_increasing():
    values = [mp.gamma_wcr(L) for L in (3, 4, 5, 6, 10, 20, 50)]
    assert values[0] > 2
    assert np.all(np.diff(values) > 0)


def test_worst_case_return_map_fixed_points():
    for depth in (3, 5):
        assert mp.worst_case_return_map(np.float64(1.0), 2.5, depth) == 1.0
        assert mp.worst_case_return_map(np.float64(0.0), 2.5, depth) == 0.0


def test_worst_case_return_map_is_gd_step():
    # One GD step on one pathway of L identical layers w, with eta = gamma / S_1, in units of y^(1/L).
    y, depth, gamma, w = 1.7, 4, 2.5, 0.8
    eta = gamma / mp.single_path_sharpness(y, depth)
    w_next = w - eta * w ** (depth - 1) * (w**depth - y)
    u_next = mp.worst_case_return_map(np.float64(w / y ** (1 / depth)), gamma, depth)
    assert abs(u_next - w_next / y ** (1 / depth)) <= 1e-15


def test_rebalancing_window_stability_branch():
    # K = 2, L = 3: 2 K^(1 - 2/L) = 2.52 < gamma_WCR(3) = 3.66, so the top is 2 / lambda_min.
    low, high = mp.rebalancing_window(1.0, 3, 2)
    assert abs(low - 2.0 / mp.single_path_sharpness(1.0, 3)) <= 1e-15
    assert abs(high - 2.0 / mp.equal_split_sharpness(1.0, 3, 2)) <= 1e-14
    assert high < mp.gamma_wcr(3) / mp.single_path_sharpness(1.0, 3)


def test_rebalancing_window_wcr_branch():
    # K = 8, L = 3: 2 K^(1 - 2/L) = 4 > gamma_WCR(3), so the worst-case return limits the window.
    low, high = mp.rebalancing_window(1.5, 3, 8)
    S1 = mp.single_path_sharpness(1.5, 3)
    assert abs(low - 2.0 / S1) <= 1e-15
    assert abs(high - mp.gamma_wcr(3) / S1) <= 1e-14
    assert high < 2.0 / mp.equal_split_sharpness(1.5, 3, 8)


FLATTEST_DEPTHS = (3, 5, 7)


def test_flattest_split_lagrange():
    p = mp.flattest_split(1.0, FLATTEST_DEPTHS)
    L = np.asarray(FLATTEST_DEPTHS, dtype=float)
    multiplier = 2 * (L - 1) * p ** (1 - 2 / L)
    assert abs(p.sum() - 1.0) <= 1e-14
    np.testing.assert_allclose(multiplier, multiplier[0], rtol=1e-12)


def test_flattest_split_equal_depths_is_equal():
    np.testing.assert_allclose(mp.flattest_split(2.0, (4, 4, 4, 4)), 0.5, rtol=1e-12)


def test_flattest_split_hessian_lowest(rng, spectra):
    network = mp.Network(depths=FLATTEST_DEPTHS)
    target = mp.scalar_target(1.0)
    best = mp.flattest_split(1.0, FLATTEST_DEPTHS)
    others = np.concatenate([[[1 / 3] * 3, [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], random_splits(rng, 12, 3, 1.0)])
    # Small moves along the constraint test that it is a minimum, not just a stationary point.
    nudges = np.array([[1e-3, -1e-3, 0.0], [0.0, 1e-3, -1e-3], [-1e-3, 0.0, 1e-3]])
    others = np.concatenate([others, best + nudges, best - nudges])
    points = [mp.init_from_strengths(network, p, target) for p in np.concatenate([[best], others])]
    tops = spectra(points, target)[:, -1]
    assert abs(tops[0] - float(mp.balanced_sharpness(jnp.asarray(best), FLATTEST_DEPTHS))) <= HESSIAN_RTOL * tops[0]
    assert tops[0] < tops[1:].min()


def test_z_change_second_order_eta_cubed():
    a = jnp.array([0.9, 0.5])
    residual = jnp.asarray(0.4)
    errors = []
    for eta in (0.02, 0.01, 0.005):
        exact, approx = mp.z_change_per_step(a, residual, eta, 3)
        errors.append(abs(float(exact[0] - approx[0])))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    # O(eta^3) error: halving eta divides it by 8.
    np.testing.assert_allclose(ratios, 8.0, rtol=0.05)


def test_z_change_second_order_pulls_to_zero():
    # z = phi(p_1) - phi(p_2) with phi(p) = p^(-1/3) at L = 3; the leader (a = 0.9) has the smaller phi.
    a = jnp.array([0.9, 0.5])
    z = float(mp.invariant_z(a**3, 3)[0])
    _, approx = mp.z_change_per_step(a, jnp.asarray(0.4), 0.01, 3)
    assert z < 0
    assert float(approx[0]) > 0


def test_z_change_matches_gd_step():
    # Identical layers a_k per pathway: one library GD step changes z by the exact closed form.
    network = mp.Network.uniform(2, 3)
    target = mp.scalar_target(1.0)
    a = np.array([0.9, 0.5])
    params = mp.init_aligned(network, a, target)
    residual = float(np.sum(a**3) - 1.0)
    eta = 0.05
    run = mp.gradient_descent(params, target, eta, 1)
    z = np.asarray(mp.invariant_z(run.strengths[:, :, 0], 3))[:, 0]
    exact, approx = mp.z_change_per_step(jnp.asarray(a), jnp.asarray(residual), eta, 3)
    # z is O(1) and changes by ~2e-5: rounding in z limits the match to ~1e-16 absolute.
    assert abs((z[1] - z[0]) - float(exact[0])) <= 1e-13
    # The second-order formula is off by O(eta r a^(L-2)) ~ 1% here.
    assert abs((z[1] - z[0]) - float(approx[0])) <= 2e-2 * abs(float(exact[0]))


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
def test_gf_limit_depths_equal_depths_match_gf_limit(depth):
    p0 = np.array([0.3, 0.2, 0.05]) ** (depth / 3)
    np.testing.assert_allclose(mp.gf_limit_depths(p0, 1.0, (depth,) * 3), mp.gf_limit(p0, 1.0, depth), rtol=1e-10)


@pytest.mark.parametrize("depths", [(3, 5), (2, 4), (1, 3)])
def test_gf_limit_depths_matches_flow(depths):
    # Equal per-layer scale 0.4 in every pathway, so the depths alone decide.
    network = mp.Network(depths=depths)
    target = mp.scalar_target(1.0)
    params = mp.init_aligned(network, [0.4, 0.4], target)
    p0 = np.asarray(mp.strengths(params, target))[:, 0]
    flow = mp.gradient_flow(params, target, np.array([0.0, 400.0]))
    simulated = np.asarray(flow.strengths)[-1, :, 0]
    np.testing.assert_allclose(simulated, mp.gf_limit_depths(p0, 1.0, depths), atol=1e-8)


def test_gf_limit_depths_shallower_wins():
    end = mp.gf_limit_depths([0.4**3, 0.4**5], 1.0, (3, 5))
    assert end[0] > 0.9
    assert abs(end.sum() - 1.0) < 1e-12


def test_gf_limit_depths_rejects_length_mismatch():
    with pytest.raises(ValueError, match=r"depths.*\(2\)"):
        mp.gf_limit_depths([0.1, 0.2], 1.0, (3, 4, 5))


def test_gf_limit_depths_rejects_nonpositive_start():
    with pytest.raises(ValueError, match="p0"):
        mp.gf_limit_depths([0.1, 0.0], 1.0, (3, 4))


def test_gf_velocity_matches_gradient():
    # Along balanced layers, dp_k/dt = sum_l (df/dw_kl) * (-dloss/dw_kl).
    depth = 4
    network = mp.Network.uniform(2, depth)
    target = mp.scalar_target(1.0)
    params = mp.init_aligned(network, [0.7, 0.5], target)
    grads = jax.grad(mp.loss)(params, target)
    expected = []
    for weights, gradient in zip(params, grads):
        w = np.asarray(weights)[:, 0, 0]
        dp_dw = np.prod(w) / w
        expected.append(np.sum(dp_dw * -np.asarray(gradient)[:, 0, 0]))
    p = np.asarray(mp.strengths(params, target))[:, 0]
    np.testing.assert_allclose(np.asarray(mp.gf_velocity(jnp.asarray(p), 1.0, depth)), expected, rtol=1e-12)


def test_gf_velocity_zero_at_minimum():
    velocity = np.asarray(mp.gf_velocity(jnp.array([0.7, 0.3]), 1.0, 3))
    assert np.abs(velocity).max() < 1e-15


def test_gd_end_strength_upper_limit_is_two_pathway():
    # The largest admissible step is 2 / lambda_min of the two-pathway equal split.
    eta_max = 2.0 / mp.equal_split_sharpness(1.0, 3, 2)
    assert mp.gd_end_strength(1.0, 3, 0.999 * eta_max) < 0.55
    with pytest.raises(ValueError, match="eta"):
        mp.gd_end_strength(1.0, 3, 1.001 * eta_max)


def test_gf_limit_depths_mixed_depth_two():
    network = mp.Network(depths=(2, 3))
    target = mp.scalar_target(1.0)
    params = mp.init_aligned(network, [0.3, 0.5], target)
    p0 = np.asarray(mp.strengths(params, target))[:, 0]
    flow = mp.gradient_flow(params, target, np.array([0.0, 600.0]))
    np.testing.assert_allclose(np.asarray(flow.strengths)[-1, :, 0], mp.gf_limit_depths(p0, 1.0, (2, 3)), atol=1e-8)
