"""Argument checks shared by the public functions.

Each check raises ``ValueError`` whose message names the argument, the value
that was given and what is allowed. The checks run in plain Python before any
``jit`` boundary, so they see concrete values.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` after checking that it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value!r}")
    return int(value)


def positive_finite(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` after checking that it is finite and > 0."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if not isinstance(value, numbers.Real):
        try:
            array = np.asarray(value)
            if array.dtype.kind not in "iuf" or array.size != 1:
                raise TypeError
            value = float(array.item())
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def finite_array(name: str, value: Any, shape: Sequence[int] | None = None) -> np.ndarray:
    """Return ``value`` as a float64 NumPy array after checking finiteness and shape.

    A ``None`` entry in ``shape`` matches any size along that axis.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {value!r}") from None
    if shape is not None:
        matches = array.ndim == len(shape) and all(
            want is None or want == got for want, got in zip(shape, array.shape)
        )
        if not matches:
            sizes = ["any" if s is None else str(s) for s in shape]
            expected = "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {expected}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain only finite numbers, got {array!r}")
    return array


def positive_array(name: str, value: Any, shape: Sequence[int] | None = None) -> np.ndarray:
    """Like :func:`finite_array`, and every entry must also be > 0."""
    array = finite_array(name, value, shape)
    if np.any(array <= 0):
        raise ValueError(f"{name} must contain only positive numbers, got {array!r}")
    return array


def one_of(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` after checking that it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)!r}, got {value!r}")
    return value


def flag(name: str, value: Any) -> bool:
    """Return ``value`` after checking that it is a ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)
