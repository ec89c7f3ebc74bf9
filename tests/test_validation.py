"""Bad inputs: each public entry point raises ValueError naming the argument and the value."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpdln_lib as mp

SCALAR = mp.Network.uniform(2, 3)
TARGET = mp.scalar_target(1.0)
PARAMS = mp.init_aligned(SCALAR, [0.5, 0.4], TARGET)
KEYS = jax.random.split(jax.random.key(0), 2)


def matvec(v):
    return 2.0 * v


# (id, call, fragments): every fragment must appear in the ValueError message.
CASES = [
    ("K-zero", lambda: mp.Network.uniform(0, 3), ["num_pathways", "0"]),
    ("K-negative", lambda: mp.Network.uniform(-2, 3), ["num_pathways", "-2"]),
    ("K-float", lambda: mp.Network.uniform(2.0, 3), ["num_pathways", "2.0"]),
    ("K-bool", lambda: mp.Network.uniform(True, 3), ["num_pathways", "True"]),
    ("L-zero", lambda: mp.Network.uniform(2, 0), ["depth", "0"]),
    ("L-float", lambda: mp.Network.uniform(2, 2.5), ["depth", "2.5"]),
    ("L-bool", lambda: mp.Network(depths=(3, False)), ["depths[1]", "False"]),
    ("L-negative-entry", lambda: mp.Network(depths=(3, -1)), ["depths[1]", "-1"]),
    ("depths-int", lambda: mp.Network(depths=3), ["depths", "3"]),
    ("depths-empty", lambda: mp.Network(depths=()), ["depths"]),
    ("d-zero", lambda: mp.Network(depths=(2,), width=0), ["width", "0"]),
    ("d-float", lambda: mp.Network(depths=(2,), width=1.5), ["width", "1.5"]),
    ("d-bool", lambda: mp.Network(depths=(2,), width=True), ["width", "True"]),
    ("eta-zero", lambda: mp.gradient_descent(PARAMS, TARGET, 0.0, 10), ["eta", "0.0"]),
    ("eta-negative", lambda: mp.gradient_descent(PARAMS, TARGET, -0.1, 10), ["eta", "-0.1"]),
    ("eta-inf", lambda: mp.gradient_descent(PARAMS, TARGET, math.inf, 10), ["eta", "inf"]),
    ("eta-nan", lambda: mp.gradient_descent(PARAMS, TARGET, math.nan, 10), ["eta", "nan"]),
    ("eta-string", lambda: mp.gradient_descent(PARAMS, TARGET, "big", 10), ["eta", "'big'"]),
    ("etas-sweep-zero", lambda: mp.sweep_gd(SCALAR, TARGET, [0.1, 0.0], [0.1], KEYS, 10), ["etas"]),
    ("scales-sweep-negative", lambda: mp.sweep_gd(SCALAR, TARGET, [0.1], [-0.1], KEYS, 10), ["scales", "-0.1"]),
    ("scales-shape", lambda: mp.init_aligned(SCALAR, [0.5, 0.4, 0.3], TARGET), ["scales", "(3,)"]),
    ("scales-nan", lambda: mp.init_aligned(SCALAR, [0.5, math.nan], TARGET), ["scales", "nan"]),
    ("strengths-shape", lambda: mp.init_from_strengths(SCALAR, [[0.5, 0.5, 0.5]], TARGET), ["strengths", "(1, 3)"]),
    ("init-scale-zero", lambda: mp.init_random(jax.random.key(0), SCALAR, 0.0), ["scale", "0.0"]),
    ("params-layer-shape", lambda: SCALAR.check_params((PARAMS[0], jnp.ones((2, 1, 1)))), ["params[1]", "(3, 1, 1)", "(2, 1, 1)"]),
    ("params-mixed-width", lambda: mp.gradient_descent((PARAMS[0], jnp.ones((3, 2, 2))), TARGET, 0.1, 10), ["params[1]", "(3, 2, 2)"]),
    ("params-count", lambda: SCALAR.check_params(PARAMS[:1]), ["params", "2 arrays"]),
    ("params-nonfinite", lambda: mp.gradient_descent((PARAMS[0], PARAMS[1].at[0].set(jnp.nan)), TARGET, 0.1, 10), ["params[1]", "nan"]),
    ("params-not-square", lambda: mp.gradient_descent((jnp.ones((3, 1, 2)), PARAMS[1]), TARGET, 0.1, 10), ["params", "(3, 1, 2)"]),
    ("target-width", lambda: mp.init_aligned(SCALAR, [0.5, 0.4], mp.make_target([1.0, 2.0])), ["width", "2"]),
    ("target-type", lambda: mp.init_aligned(SCALAR, [0.5, 0.4], np.eye(1)), ["target", "ndarray"]),
    ("target-nan", lambda: mp.make_target([1.0, math.nan]), ["singular_values", "nan"]),
    ("target-negative", lambda: mp.make_target([1.0, -2.0]), ["singular_values", "-2."]),
    ("target-empty", lambda: mp.make_target([]), ["singular_values"]),
    ("y-inf", lambda: mp.scalar_target(math.inf), ["y", "inf"]),
    ("y-zero", lambda: mp.single_path_sharpness(0.0, 3), ["y", "0.0"]),
    ("num-steps-zero", lambda: mp.gradient_descent(PARAMS, TARGET, 0.1, 0), ["num_steps", "0"]),
    ("record-every-not-divisor", lambda: mp.gradient_descent(PARAMS, TARGET, 0.1, 10, record_every=3), ["record_every", "3", "10"]),
    ("record-every-sweep", lambda: mp.sweep_gd(SCALAR, TARGET, [0.1], [0.1], KEYS, 10, record_every=4), ["record_every", "4"]),
    ("threshold-negative", lambda: mp.gradient_descent(PARAMS, TARGET, 0.1, 10, divergence_threshold=-1.0), ["divergence_threshold", "-1.0"]),
    ("gf-times-decreasing", lambda: mp.gradient_flow(PARAMS, TARGET, [0.0, 2.0, 1.0]), ["times", "2.", "1."]),
    ("gf-times-negative", lambda: mp.gradient_flow(PARAMS, TARGET, [-1.0, 1.0]), ["times", "-1."]),
    ("gf-times-empty", lambda: mp.gradient_flow(PARAMS, TARGET, []), ["times"]),
    ("gf-times-nan", lambda: mp.gradient_flow(PARAMS, TARGET, [0.0, math.nan]), ["times", "nan"]),
    ("gf-times-2d", lambda: mp.gradient_flow(PARAMS, TARGET, [[0.0, 1.0]]), ["times", "(1, 2)"]),
    ("gf-rtol-zero", lambda: mp.gradient_flow(PARAMS, TARGET, [0.0, 1.0], rtol=0.0), ["rtol", "0.0"]),
    ("gf-max-steps-float", lambda: mp.gradient_flow(PARAMS, TARGET, [0.0, 1.0], max_steps=10.5), ["max_steps", "10.5"]),
    ("lanczos-k-above-num-iter", lambda: mp.lanczos_top_eigenvalues(matvec, 10, k=6, num_iter=5), ["k", "6", "5"]),
    ("lanczos-num-iter-above-dim", lambda: mp.lanczos_top_eigenvalues(matvec, 10, num_iter=11), ["num_iter", "11", "10"]),
    ("lanczos-dim-zero", lambda: mp.lanczos_top_eigenvalues(matvec, 0), ["dim", "0"]),
    ("hessian-method", lambda: mp.hessian_top_eigenvalues(PARAMS, TARGET, method="arnoldi"), ["method", "'arnoldi'"]),
    ("hessian-k-above-n", lambda: mp.hessian_top_eigenvalues(PARAMS, TARGET, k=7), ["k", "7", "6"]),
    ("hessian-num-iter", lambda: mp.hessian_top_eigenvalues(PARAMS, TARGET, k=3, method="lanczos", num_iter=2), ["num_iter", "2"]),
    ("power-num-iter-zero", lambda: mp.power_iteration(matvec, jnp.ones(3), 0), ["num_iter", "0"]),
    ("gd-end-depth-two", lambda: mp.gd_end_strength(1.0, 2, 0.5), ["depth", "2"]),
    ("gd-end-eta-above-window", lambda: mp.gd_end_strength(1.0, 3, 0.9), ["eta", "0.9", "0.83"]),
    ("gd-end-eta-negative", lambda: mp.gd_end_strength(1.0, 3, [0.7, -0.7]), ["eta", "-0.7"]),
    ("gamma-wcr-depth-two", lambda: mp.gamma_wcr(2), ["depth", "2"]),
    ("flattest-depth-two", lambda: mp.flattest_split(1.0, (3, 2)), ["depth", "[3, 2]"]),
    ("flattest-depth-bool", lambda: mp.flattest_split(1.0, (3, True)), ["depths[1]", "True"]),
    ("window-depth-two", lambda: mp.rebalancing_window(1.0, 2, 2), ["depth", "2"]),
    ("window-one-pathway", lambda: mp.rebalancing_window(1.0, 3, 1), ["num_pathways", "1"]),
    ("ratio-depth-one", lambda: mp.sharpness_ratio(2, 1), ["depth", "1"]),
    ("learning-time-depth-one", lambda: mp.gf_learning_time(0.1, 1.0, 1), ["depth", "1"]),
    ("learning-time-past-target", lambda: mp.gf_learning_time(1.5, 1.0, 3), ["a0", "1.5"]),
    ("gf-limit-negative-p0", lambda: mp.gf_limit([0.1, -0.1], 1.0, 3), ["p0", "-0.1"]),
    ("z-change-depth-two", lambda: mp.z_change_per_step(jnp.ones(2), jnp.asarray(0.1), 0.1, 2), ["depth", "2"]),
    ("invariant-z-one-pathway", lambda: mp.invariant_z(jnp.ones((4, 1)), 3), ["2 pathways", "(4, 1)"]),
    ("potential-depth-zero", lambda: mp.pathway_potential(jnp.ones(2), 0), ["depth", "0"]),
    ("balanced-sharpness-depths-length", lambda: mp.balanced_sharpness(jnp.ones(3), (3, 5)), ["depth", "(3, 5)"]),
    ("spectrum-negative-values", lambda: mp.matrix_hessian_spectrum(jnp.array([[-1.0, 1.0]]), 3), ["mode_values", "-1."]),
    ("spectrum-depth-zero", lambda: mp.matrix_hessian_spectrum(jnp.ones((2, 2)), 0), ["depth", "0"]),
]


@pytest.mark.parametrize("call, fragments", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_raises_value_error(call, fragments):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from {message!r}"


def test_case_count():
    assert len(CASES) >= 20


def test_case_ids_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


def test_valid_inputs_accepted():
    # The same calls with valid values pass the checks, so the cases above fail for their bad value.
    assert mp.Network.uniform(np.int64(2), 3).num_pathways == 2
    assert float(mp.gd_end_strength(1.0, 3, 0.8)) < 1.0
    assert mp.gradient_descent(PARAMS, TARGET, np.float64(0.1), 10, record_every=5).loss.shape == (3,)
    assert mp.lanczos_top_eigenvalues(matvec, 10, k=5, num_iter=5).shape == (5,)


WIDTH_MISMATCH = [
    ("loss", lambda params, target: mp.loss(params, target)),
    ("strengths", lambda params, target: mp.strengths(params, target)),
    ("mode_matrices", lambda params, target: mp.mode_matrices(params, target)),
    ("sharpness", lambda params, target: mp.sharpness(params, target)),
    ("dense_hessian", lambda params, target: mp.dense_hessian(params, target)),
]


@pytest.mark.parametrize("name, call", WIDTH_MISMATCH, ids=[name for name, _ in WIDTH_MISMATCH])
def test_width_mismatch_rejected(name, call):
    params = mp.init_random(jax.random.key(0), mp.Network.uniform(2, 3), 0.5)
    target = mp.make_target([1.0, 2.0])
    with pytest.raises(ValueError, match=r"width 2") as error:
        call(params, target)
    assert "(1, 1)" in str(error.value)


EXTRA_BAD_INPUTS = [
    ("eta-string", lambda: mp.gradient_descent(_scalar_params(), mp.scalar_target(1.0), "0.1", 10), ["eta", "'0.1'"]),
    ("target-string", lambda: mp.scalar_target("1"), ["y", "'1'"]),
    ("track-sharpness-string", lambda: mp.gradient_descent(_scalar_params(), mp.scalar_target(1.0), 0.1, 10, track_sharpness="no"), ["track_sharpness", "'no'"]),
    ("init-random-int-key", lambda: mp.init_random(0, mp.Network.uniform(2, 3), 0.1), ["key", "0"]),
    ("balanced-sharpness-scalar-p", lambda: mp.balanced_sharpness(0.5, 3), ["p", "0.5"]),
    ("balanced-sharpness-float-depth", lambda: mp.balanced_sharpness(jnp.ones(2), 2.5), ["depth", "2.5"]),
    ("shares-axis-out-of-range", lambda: mp.shares(jnp.ones(3)), ["axis=-1", "(3,)"]),
    ("invariant-z-one-pathway", lambda: mp.invariant_z([0.5], 3), ["2 pathways", "(1,)"]),
]


@pytest.mark.parametrize("label, call, fragments", EXTRA_BAD_INPUTS, ids=[case[0] for case in EXTRA_BAD_INPUTS])
def test_extra_bad_input_raises_value_error(label, call, fragments):
    with pytest.raises(ValueError) as error:
        call()
    for fragment in fragments:
        assert fragment in str(error.value)


def test_describe_divergence_rejects_sweep():
    sweep = mp.sweep_gd(
        mp.Network.uniform(2, 3), mp.scalar_target(1.0), np.array([0.1, 5.0]), np.array([0.5]),
        jax.random.split(jax.random.key(0), 2), 20,
    )
    with pytest.raises(ValueError, match=r"\(2, 1, 2\)"):
        sweep.describe_divergence()


def _scalar_params():
    return mp.init_random(jax.random.key(0), mp.Network.uniform(2, 3), 0.3)
