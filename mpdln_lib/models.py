"""Multi-pathway deep linear networks: architecture, targets, initialisations, loss.

A network has ``K`` pathways. Pathway ``k`` is a product of ``L_k`` square
``d x d`` matrices, and the network's end-to-end map is the sum of the
pathway products::

    Omega_k = W_{k,L_k} ... W_{k,1},        M = sum_k Omega_k.

With whitened inputs the regression loss is, up to a constant,
``1/2 ||M - M*||_F^2``, where ``M*`` is the input-output correlation (the
*target*). The scalar model of the book is the case ``d = 1``.

Parameters are a tuple of ``K`` arrays; array ``k`` has shape ``(L_k, d, d)``
and its entry ``l`` is the layer ``W_{k,l+1}`` (layer 1 acts first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import _validation as check

Params = tuple[jax.Array, ...]
"""Network parameters, a tuple of ``K`` arrays; array ``k`` has shape ``(L_k, d, d)``."""


@dataclass(frozen=True)
class Network:
    """Architecture of a multi-pathway deep linear network.

    Attributes:
        depths: Depth ``L_k`` of each pathway, a tuple of ``K`` positive integers.
        width: Width ``d`` of every layer (``d = 1`` is the scalar model).

    Raises:
        ValueError: If a depth or the width is not a positive integer, or there
            is no pathway.
    """

    depths: tuple[int, ...]
    width: int = 1

    def __post_init__(self) -> None:
        depths = self.depths
        if isinstance(depths, (int, np.integer)) or not isinstance(depths, Sequence):
            raise ValueError(
                f"depths must be a sequence of positive integers, one per pathway, got {depths!r}"
            )
        if len(depths) == 0:
            raise ValueError("depths must name at least one pathway, got an empty sequence")
        checked = tuple(check.positive_int(f"depths[{k}]", L) for k, L in enumerate(depths))
        object.__setattr__(self, "depths", checked)
        object.__setattr__(self, "width", check.positive_int("width", self.width))

    @classmethod
    def uniform(cls, num_pathways: int, depth: int, width: int = 1) -> "Network":
        """Build a network whose ``num_pathways`` pathways all have depth ``depth``."""
        num_pathways = check.positive_int("num_pathways", num_pathways)
        depth = check.positive_int("depth", depth)
        return cls(depths=(depth,) * num_pathways, width=width)

    @property
    def num_pathways(self) -> int:
        """Number of pathways ``K``."""
        return len(self.depths)

    @property
    def is_uniform(self) -> bool:
        """Whether every pathway has the same depth."""
        return len(set(self.depths)) == 1

    @property
    def depth(self) -> int:
        """The common depth ``L`` of a uniform network.

        Raises:
            ValueError: If the pathways have different depths.
        """
        if not self.is_uniform:
            raise ValueError(
                f"depth is defined only when all pathways have the same depth, got depths {self.depths}"
            )
        return self.depths[0]

    @property
    def num_params(self) -> int:
        """Total number of scalar parameters, ``d^2 sum_k L_k``."""
        return sum(self.depths) * self.width**2

    def check_params(self, params: Params, name: str = "params") -> Params:
        """Check that ``params`` fit this architecture and are finite.

        Returns:
            The parameters as a tuple of float64 ``jax.Array``.

        Raises:
            ValueError: If the number of pathways, a shape, or a value is wrong.
        """
        if not isinstance(params, (tuple, list)) or len(params) != self.num_pathways:
            got = len(params) if isinstance(params, (tuple, list)) else type(params).__name__
            raise ValueError(
                f"{name} must be a tuple of {self.num_pathways} arrays (one per pathway), got {got}"
            )
        d = self.width
        checked = []
        for k, (weights, L) in enumerate(zip(params, self.depths)):
            array = check.finite_array(f"{name}[{k}]", weights, (L, d, d))
            checked.append(jnp.asarray(array))
        return tuple(checked)


class Target(NamedTuple):
    """Target map ``M* = U diag(s) V^T`` with its singular value decomposition.

    Attributes:
        matrix: ``M*``, shape ``(d, d)``.
        left: ``U``, orthogonal, shape ``(d, d)``; column ``i`` is mode ``i``'s output direction.
        singular_values: ``s``, shape ``(d,)``, non-negative.
        right: ``V``, orthogonal, shape ``(d, d)``; column ``i`` is mode ``i``'s input direction.
    """

    matrix: jax.Array
    left: jax.Array
    singular_values: jax.Array
    right: jax.Array

    @property
    def width(self) -> int:
        """Width ``d`` of the target."""
        return int(self.matrix.shape[0])


def _random_orthogonal(key: jax.Array, d: int) -> np.ndarray:
    """Draw a Haar-distributed ``d x d`` orthogonal matrix."""
    q, r = np.linalg.qr(np.asarray(jax.random.normal(key, (d, d), dtype=jnp.float64)))
    return q * np.sign(np.diag(r))[None, :]


def make_target(singular_values: Sequence[float] | jax.Array, key: jax.Array | None = None) -> Target:
    """Build a target with the given singular values.

    Args:
        singular_values: ``s``, shape ``(d,)``, finite and non-negative.
        key: PRNG key. ``None`` gives the aligned (diagonal, symmetric) target
            ``M* = diag(s)``; a key draws random orthogonal ``U`` and ``V``.

    Returns:
        The :class:`Target`.

    Raises:
        ValueError: If ``singular_values`` is not a non-empty 1-d array of
            finite, non-negative numbers.
    """
    s = check.finite_array("singular_values", singular_values, (None,))
    if s.size == 0:
        raise ValueError("singular_values must contain at least one value, got an empty array")
    if np.any(s < 0):
        raise ValueError(f"singular_values must be non-negative, got {s!r}")
    # Built in NumPy: constructors run once, and eager jax.numpy would compile
    # every small operation anew for each shape.
    d = s.size
    if key is None:
        left = right = np.eye(d)
    else:
        key_left, key_right = jax.random.split(key)
        left = _random_orthogonal(key_left, d)
        right = _random_orthogonal(key_right, d)
    matrix = (left * s[None, :]) @ right.T
    return Target(
        matrix=jnp.asarray(matrix), left=jnp.asarray(left), singular_values=jnp.asarray(s), right=jnp.asarray(right)
    )


def scalar_target(y: float) -> Target:
    """Build the ``1 x 1`` target ``y`` of the scalar model.

    Raises:
        ValueError: If ``y`` is not a positive finite number.
    """
    y = check.positive_finite("y", y)
    return make_target([y])


def _aligned_layers(diag: np.ndarray, depth: int, target: Target, first_sign: np.ndarray) -> jax.Array:
    """Stack ``depth`` aligned layers with singular values ``diag`` (shape ``(d,)``).

    Layer 1 is ``diag(first_sign * diag) V^T``, the middle layers ``diag(diag)``
    and layer ``L`` is ``U diag(diag)``, so that the product is
    ``U diag(first_sign * diag^L) V^T``.
    """
    U, V = np.asarray(target.left), np.asarray(target.right)
    first = first_sign * diag
    if depth == 1:
        return jnp.asarray(((U * first[None, :]) @ V.T)[None])
    layers = [first[:, None] * V.T]
    layers += [np.diag(diag)] * (depth - 2)
    layers.append(U * diag[None, :])
    return jnp.asarray(np.stack(layers))


def _per_mode(name: str, values: jax.Array | Sequence[float], network: Network) -> np.ndarray:
    """Broadcast a ``(K,)`` or ``(K, d)`` array to ``(K, d)``."""
    K, d = network.num_pathways, network.width
    array = check.finite_array(name, values)
    if array.shape == (K,):
        array = np.repeat(array[:, None], d, axis=1)
    if array.shape != (K, d):
        raise ValueError(f"{name} must have shape ({K},) or ({K}, {d}), got shape {array.shape}")
    return array


def init_aligned(network: Network, scales: jax.Array | Sequence[float], target: Target) -> Params:
    """Build balanced layers aligned with the target's singular vectors.

    Every layer of pathway ``k`` has singular value ``a_{k,i}`` on mode ``i``,
    so the pathway's mode-``i`` strength is ``a_{k,i}^{L_k}``. Gradient descent
    and gradient flow keep this structure, and the loss splits into
    independent scalar problems, one per mode.

    Args:
        network: The architecture.
        scales: Per-layer scales ``a``, shape ``(K,)`` (the same for every mode)
            or ``(K, d)``.
        target: The target whose singular vectors the layers align with.

    Returns:
        The parameters.

    Raises:
        ValueError: If ``scales`` has the wrong shape or a non-finite entry, or
            the target's width differs from the network's.
    """
    _check_target(network, target)
    a = _per_mode("scales", scales, network)
    ones = np.ones(network.width)
    return tuple(_aligned_layers(a[k], L, target, ones) for k, L in enumerate(network.depths))


def init_from_strengths(
    network: Network, strengths: jax.Array | Sequence[float], target: Target
) -> Params:
    """Build the balanced aligned parameters with given per-pathway, per-mode strengths.

    Pathway ``k``'s layers all have singular values ``|p_{k,i}|^(1/L_k)``; the
    sign of ``p_{k,i}`` sits on the first layer. Passing strengths that sum to
    the target's singular values over pathways gives a global minimum.

    Args:
        network: The architecture.
        strengths: ``p``, shape ``(K,)`` (the same for every mode) or ``(K, d)``.
        target: The target whose singular vectors the layers align with.

    Returns:
        The parameters.

    Raises:
        ValueError: If ``strengths`` has the wrong shape or a non-finite entry.
    """
    _check_target(network, target)
    p = _per_mode("strengths", strengths, network)
    layers = []
    for k, L in enumerate(network.depths):
        magnitude = np.abs(p[k]) ** (1.0 / L)
        sign = np.where(p[k] < 0, -1.0, 1.0)
        layers.append(_aligned_layers(magnitude, L, target, sign))
    return tuple(layers)


def init_random(key: jax.Array, network: Network, scale: float) -> Params:
    """Draw every weight independently from ``N(0, scale^2 / d)``.

    With this variance each layer's singular values are of order ``scale``.

    Args:
        key: PRNG key.
        network: The architecture.
        scale: Per-layer scale, positive and finite.

    Returns:
        The parameters.

    Raises:
        ValueError: If ``scale`` is not a positive finite number.
    """
    scale = check.positive_finite("scale", scale)
    if isinstance(key, (int, np.integer)):
        raise ValueError(f"key must be a PRNG key such as jax.random.key({key}), got the integer {key!r}")
    return _init_random(key, network, scale)


def _init_random(key: jax.Array, network: Network, scale: float | jax.Array) -> Params:
    """:func:`init_random` without argument checks, usable under ``jit``/``vmap``."""
    d = network.width
    keys = jax.random.split(key, network.num_pathways)
    std = scale / jnp.sqrt(d)
    return tuple(
        std * jax.random.normal(keys[k], (L, d, d), dtype=jnp.float64)
        for k, L in enumerate(network.depths)
    )


def _check_target(network: Network, target: Target) -> None:
    if not isinstance(target, Target):
        raise ValueError(f"target must be a Target (see make_target), got {type(target).__name__}")
    if target.width != network.width:
        raise ValueError(
            f"target has width {target.width} but the network has width {network.width}"
        )


def path_product(weights: jax.Array) -> jax.Array:
    """Multiply one pathway's layers: ``W_L ... W_1``.

    Args:
        weights: Shape ``(L, d, d)``; entry ``l`` is layer ``l + 1``.

    Returns:
        The pathway's map, shape ``(d, d)``.
    """
    if weights.shape[-1] == 1:
        return jnp.prod(weights[:, 0, 0]).reshape(1, 1)
    product = weights[0]
    for layer in weights[1:]:
        product = layer @ product
    return product


def path_products(params: Params) -> jax.Array:
    """Compute every pathway's map ``Omega_k``, shape ``(K, d, d)``."""
    return jnp.stack([path_product(w) for w in params])


def end_to_end(params: Params) -> jax.Array:
    """Compute the network's map ``M = sum_k Omega_k``, shape ``(d, d)``."""
    return jnp.sum(path_products(params), axis=0)


def check_widths(params: Params, target: Target) -> None:
    """Check that every layer is ``d x d`` with ``d`` the target's width.

    Only shapes are compared, so the check also works on traced arrays under
    ``jit``. Without it, a width-1 network and a wider target would broadcast
    into a loss that means nothing.

    Raises:
        ValueError: If a layer's shape does not match the target's width.
    """
    d = target.matrix.shape[-1]
    shapes = [tuple(w.shape[-2:]) for w in params]
    if any(shape != (d, d) for shape in shapes):
        raise ValueError(
            f"params have layer shapes {shapes} but the target has width {d}; every layer must be ({d}, {d})"
        )


def loss(params: Params, target: Target) -> jax.Array:
    """Compute the loss ``1/2 ||M - M*||_F^2`` (a sum, not a mean), a scalar.

    The step of gradient descent is taken on exactly this function, so the
    stability threshold ``2 / eta`` applies to its Hessian.
    """
    check_widths(params, target)
    residual = end_to_end(params) - target.matrix
    return 0.5 * jnp.sum(residual**2)


def target_from_matrix(matrix: jax.Array | Sequence[Sequence[float]]) -> Target:
    """Build a target from a square matrix ``M*`` by its singular value decomposition.

    Use it when the target comes from data, for example the input-output
    correlation of whitened inputs. The singular values are sorted in
    decreasing order. Where they repeat, the singular vectors are one valid
    choice among many.

    Args:
        matrix: ``M*``, shape ``(d, d)``, finite.

    Returns:
        The :class:`Target`, whose ``matrix`` is the given ``M*``.

    Raises:
        ValueError: If ``matrix`` is not a non-empty square 2-d array of finite numbers.
    """
    array = check.finite_array("matrix", matrix, (None, None))
    if array.shape[0] != array.shape[1] or array.size == 0:
        raise ValueError(f"matrix must be a non-empty square matrix, got shape {array.shape}")
    left, s, right_t = np.linalg.svd(array)
    return Target(
        matrix=jnp.asarray(array),
        left=jnp.asarray(left),
        singular_values=jnp.asarray(s),
        right=jnp.asarray(right_t.T),
    )
