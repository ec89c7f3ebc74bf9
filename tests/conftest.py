"""Shared fixtures for the mpdln_lib tests.

Importing :mod:`mpdln_lib` turns on ``jax_enable_x64``, so every array the
tests build is float64 unless a test requests float32. The reference for every
curvature check is the dense Hessian from ``jax.hessian`` and ``eigh`` in
float64.

Compiling the dense Hessian takes up to several seconds per architecture on a
shared 2-core machine, mostly for the second derivative of ``jnp.prod`` in the
scalar model. The helpers below therefore compile it once per architecture,
and every test of that architecture reuses it.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import mpdln_lib as mp

_dense_hessian = jax.jit(mp.dense_hessian)


def hessian_spectra(points: list[mp.Params], target: mp.Target) -> np.ndarray:
    """Compute the ascending dense-Hessian spectrum at each point, shape ``(len(points), n)``.

    The Hessian is formed by the jitted ``mp.dense_hessian`` (one compile per
    architecture, reused for every point) and diagonalised by NumPy's ``eigh``.
    A Python loop is faster here than ``vmap``, whose compile takes about
    twice as long for the deep scalar networks.
    """
    return np.stack([np.linalg.eigvalsh(np.asarray(_dense_hessian(params, target))) for params in points])


@pytest.fixture(scope="session")
def spectra():
    """The dense Hessian spectra at a list of points: ``spectra(points, target) -> (B, n)``, ascending."""
    return hessian_spectra


@pytest.fixture(scope="session")
def dense_hessian():
    """``mp.dense_hessian`` under ``jit``: one compile per architecture, faster than eager tracing."""
    return _dense_hessian


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, for test inputs that need no JAX key."""
    return np.random.default_rng(20260605)


def pytest_configure(config: pytest.Config) -> None:
    """Check that float64 is on before any test builds an array."""
    if not jax.config.jax_enable_x64:
        raise pytest.UsageError("importing mpdln_lib did not turn on jax_enable_x64, and the tests need float64")
