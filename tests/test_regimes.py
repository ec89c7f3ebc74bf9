"""Tests of mpdln_lib.regimes: hand-made trajectories with known regimes and phases, then real runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpdln_lib as mp
from mpdln_lib import Regime

Y = 1.0


def make_trajectory(strengths, sharpness=None, diverged_step=-1, record_every=1):
    """Build a one-mode Trajectory from strengths of shape (..., T, K)."""
    p = np.asarray(strengths, dtype=float)[..., None]
    num_records = p.shape[-3]
    output = p[..., 0].sum(axis=-1)
    if sharpness is None:
        sharpness = np.full(output.shape, np.nan)
    return mp.Trajectory(
        steps=jnp.arange(num_records) * record_every,
        loss=jnp.asarray(0.5 * (output - Y) ** 2),
        strengths=jnp.asarray(p),
        sharpness=jnp.asarray(sharpness, dtype=float),
        balance_drift=jnp.zeros(output.shape),
        final_params=(jnp.zeros((3, 1, 1)), jnp.zeros((3, 1, 1))),
        diverged_step=jnp.asarray(diverged_step),
    )


def path(*points):
    """Strength records of two pathways through the given (p_1, p_2) points."""
    return np.array(points, dtype=float)


def test_classify_single_path():
    trajectory = make_trajectory(path((1e-4, 1e-5), (0.5, 1e-5), (1.0 - 1e-5, 1e-5), (1.0 - 1e-5, 1e-5)))
    assert mp.classify_run(trajectory, Y) is Regime.SINGLE_PATH


def test_classify_rebalanced():
    trajectory = make_trajectory(path((1e-4, 1e-5), (1.1, 1e-3), (0.85, 0.15), (0.85, 0.15)))
    assert mp.classify_run(trajectory, Y) is Regime.REBALANCED


def test_classify_oscillating():
    trajectory = make_trajectory(path((1e-4, 1e-5), (1.2, 1e-3), (0.8, 1e-3), (1.2, 1e-3)))
    assert mp.classify_run(trajectory, Y) is Regime.OSCILLATING


def test_converged_needs_last_two_records():
    # The output passes through y at the last record only: not converged.
    trajectory = make_trajectory(path((1e-4, 1e-5), (1.2, 0.0), (0.8, 0.0), (1.0, 0.0)))
    assert mp.classify_run(trajectory, Y) is Regime.OSCILLATING


def test_classify_collapsed_after_overshoot():
    trajectory = make_trajectory(path((1e-2, 1e-2), (2.5, 0.3), (1e-6, 1e-7), (1e-6, 1e-7)))
    assert mp.classify_run(trajectory, Y) is Regime.COLLAPSED


def test_classify_collapsed_between_records():
    # The overshoot fell between records; the weights ended below their start.
    trajectory = make_trajectory(path((1e-2, 1e-2), (1e-3, 1e-4), (1e-6, 1e-7), (1e-6, 1e-7)))
    assert mp.classify_run(trajectory, Y) is Regime.COLLAPSED


def test_classify_collapsed_by_balance_drift():
    # The weights regrew after a missed overshoot, but balancedness changed.
    trajectory = make_trajectory(path((1e-4, 1e-5), (1e-5, 1e-6), (2e-4, 1e-5), (3e-4, 1e-5)))
    trajectory = trajectory._replace(balance_drift=jnp.array([0.0, 0.4, 0.4, 0.4]))
    assert mp.classify_run(trajectory, Y) is Regime.COLLAPSED


def test_classify_not_learned():
    trajectory = make_trajectory(path((1e-4, 1e-5), (2e-4, 1e-5), (4e-4, 1e-5), (8e-4, 1e-5)))
    assert mp.classify_run(trajectory, Y) is Regime.NOT_LEARNED


def test_classify_diverged_wins():
    trajectory = make_trajectory(path((1e-4, 1e-5), (1.0, 0.0), (np.nan, np.nan), (np.nan, np.nan)), diverged_step=2)
    assert mp.classify_run(trajectory, Y) is Regime.DIVERGED


def test_classify_runs_keeps_sweep_shape():
    single = path((1e-4, 1e-5), (1.0, 0.0), (1.0, 0.0))
    shared = path((1e-4, 1e-5), (0.7, 0.3), (0.7, 0.3))
    trajectory = make_trajectory(np.stack([single, shared]), diverged_step=np.array([-1, -1]))
    codes = mp.classify_runs(trajectory, Y)
    assert codes.shape == (2,)
    assert codes[0] == Regime.SINGLE_PATH
    assert codes[1] == Regime.REBALANCED


def test_single_path_share_threshold():
    trajectory = make_trajectory(path((1e-4, 1e-5), (0.97, 0.03), (0.97, 0.03)))
    assert mp.classify_run(trajectory, Y) is Regime.REBALANCED
    assert mp.classify_run(trajectory, Y, single_path_share=0.95) is Regime.SINGLE_PATH


def test_regime_labels():
    assert Regime.REBALANCED.label == "re-balanced"
    assert Regime.OSCILLATING.label == "still oscillating"
    assert {r.label for r in Regime} == {
        "single-path", "re-balanced", "still oscillating", "collapsed", "diverged", "not learned"
    }


@pytest.mark.parametrize(
    "options, name",
    [
        ({"loss_tol": 0.0}, "loss_tol"),
        ({"single_path_share": 1.0}, "single_path_share"),
        ({"collapse_output": -0.1}, "collapse_output"),
        ({"mode": 1}, "mode"),
    ],
)
def test_classify_rejects_bad_options(options, name):
    trajectory = make_trajectory(path((1e-4, 1e-5), (1.0, 0.0), (1.0, 0.0)))
    with pytest.raises(ValueError, match=name):
        mp.classify_runs(trajectory, Y, **options)


def test_classify_rejects_bad_y():
    trajectory = make_trajectory(path((1e-4, 1e-5), (1.0, 0.0), (1.0, 0.0)))
    with pytest.raises(ValueError, match="y"):
        mp.classify_runs(trajectory, -1.0)


def test_classify_run_rejects_sweep():
    trajectory = make_trajectory(np.zeros((2, 3, 2)), diverged_step=np.array([-1, -1]))
    with pytest.raises(ValueError, match="select_run"):
        mp.classify_run(trajectory, Y)


def test_locate_phases_hand_made():
    eta = 1.0  # threshold 2/eta = 2
    p = path((1e-3, 1e-4), (0.1, 1e-4), (0.6, 1e-4), (1.2, 1e-3), (0.8, 0.1), (0.9, 0.1), (0.9, 0.1))
    sharpness = [0.01, 0.1, 1.0, 2.5, 1.9, 2.1, 1.8]
    trajectory = make_trajectory(p, sharpness=sharpness, record_every=10)
    phases = mp.locate_phases(trajectory, eta, Y)
    assert phases.learned_step == 20
    assert phases.rise_start_step == 20  # first sharpness >= 0.1 * 2
    assert phases.eos_onset_step == 30
    assert phases.eos_end_step == 60  # 2.1 at step 50 is unstable again
    assert phases.converged_step == 50
    assert phases.diverged_step is None


def test_locate_phases_without_eos():
    p = path((1e-3, 1e-4), (0.6, 1e-4), (1.0, 1e-4), (1.0, 1e-4))
    trajectory = make_trajectory(p, sharpness=[0.0, 1.0, 1.5, 1.5])
    phases = mp.locate_phases(trajectory, 1.0, Y)
    assert phases.eos_onset_step is None
    assert phases.eos_end_step is None
    assert phases.converged_step == 2


def test_locate_phases_still_unstable_at_end():
    p = path((1e-3, 1e-4), (1.2, 1e-4), (0.8, 1e-4), (1.2, 1e-4))
    trajectory = make_trajectory(p, sharpness=[0.0, 2.5, 1.5, 2.5])
    phases = mp.locate_phases(trajectory, 1.0, Y)
    assert phases.eos_onset_step == 1
    assert phases.eos_end_step is None
    assert phases.converged_step is None


def test_locate_phases_needs_sharpness():
    trajectory = make_trajectory(path((1e-3, 1e-4), (1.0, 0.0)))
    with pytest.raises(ValueError, match="track_sharpness"):
        mp.locate_phases(trajectory, 1.0, Y)


def test_locate_phases_rejects_bad_eta():
    trajectory = make_trajectory(path((1e-3, 1e-4), (1.0, 0.0)), sharpness=[0.0, 1.0])
    with pytest.raises(ValueError, match="eta"):
        mp.locate_phases(trajectory, 0.0, Y)


def test_select_run_rejects_wrong_index():
    trajectory = make_trajectory(np.zeros((2, 3, 2)), diverged_step=np.array([-1, -1]))
    with pytest.raises(ValueError, match="index"):
        mp.select_run(trajectory, 0, 0)
    with pytest.raises(ValueError, match=r"index\[0\]"):
        mp.select_run(trajectory, 2)


@pytest.fixture(scope="module")
def sweep():
    """Depth 3, two pathways, y = 1, init scale 0.05: one step size per regime."""
    network = mp.Network.uniform(2, 3)
    keys = jax.random.split(jax.random.key(0), 4)
    etas = np.array([0.5, 0.75, 0.95, 1.6])
    return etas, mp.sweep_gd(
        network, mp.scalar_target(Y), etas, np.array([0.05]), keys, 2000, track_sharpness=True
    )


def test_real_runs_cover_regimes(sweep):
    etas, trajectory = sweep
    codes = mp.classify_runs(trajectory, Y)[:, 0, :]
    assert np.all(codes[0] == Regime.SINGLE_PATH)  # eta < 2/S_1 = 2/3
    assert np.all(codes[2] == Regime.OSCILLATING)  # 2/lambda_min < eta < gamma_WCR / S_1
    assert np.all(codes[3] == Regime.DIVERGED)
    # 2/S_1 < eta < 2/lambda_min: seed 0 has finished re-balancing by step 2000.
    assert codes[1, 0] == Regime.REBALANCED


def test_real_run_phases_in_order(sweep):
    etas, trajectory = sweep
    run = mp.select_run(trajectory, 1, 0, 0)
    phases = mp.locate_phases(run, etas[1], Y)
    assert phases.rise_start_step <= phases.eos_onset_step
    assert phases.learned_step <= phases.eos_onset_step + 1
    assert phases.eos_onset_step < phases.eos_end_step <= phases.converged_step
    final_sharpness = float(run.sharpness[-1])
    assert final_sharpness < 2.0 / etas[1]


def test_real_small_step_run_has_no_eos(sweep):
    etas, trajectory = sweep
    phases = mp.locate_phases(mp.select_run(trajectory, 0, 0, 0), etas[0], Y)
    assert phases.eos_onset_step is None
    assert phases.converged_step is not None


def test_real_diverged_run_reports_step(sweep):
    etas, trajectory = sweep
    run = mp.select_run(trajectory, 3, 0, 0)
    phases = mp.locate_phases(run, etas[3], Y)
    assert phases.diverged_step == int(run.diverged_step)
    assert phases.diverged_step > 0


def test_phases_onset_needs_full_threshold():
    # Sharpness at 99.5% of 2/eta is not yet the edge of stability; 2/eta is.
    eta = 0.75
    records = path((1e-3, 1e-4), (0.9, 1e-3), (1.1, 1e-3), (0.9, 0.1), (0.86, 0.14), (0.86, 0.14))
    sharpness = np.array([0.01, 0.995, 0.995, 1.0, 0.99, 0.99]) * (2 / eta)
    phases = mp.locate_phases(make_trajectory(records, sharpness), eta, Y)
    assert phases.eos_onset_step == 3
    assert phases.eos_end_step == 4


def test_phases_rise_starts_at_fraction():
    eta = 0.75
    records = path((1e-3, 1e-4), (0.01, 1e-4), (0.2, 1e-4), (0.9, 1e-4), (1.0, 1e-4), (1.0, 1e-4))
    sharpness = np.array([0.01, 0.09, 0.11, 0.5, 0.9, 0.9]) * (2 / eta)
    phases = mp.locate_phases(make_trajectory(records, sharpness), eta, Y)
    assert phases.rise_start_step == 2


@pytest.mark.parametrize("final_output, expected", [(0.04, Regime.COLLAPSED), (0.06, Regime.OSCILLATING)])
def test_collapse_output_threshold(final_output, expected):
    # A run that learned the signal and ends with |f| just below or above 0.05 y.
    records = path((1e-3, 1e-4), (0.8, 0.1), (1.3, 0.2), (0.5 * final_output, 0.5 * final_output))
    assert mp.classify_run(make_trajectory(records), Y) is expected
