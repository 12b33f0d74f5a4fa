"""Argument checks shared by every family: each returns the value in its canonical type or
raises ValueError naming the parameter and the allowed values."""
from __future__ import annotations

import numpy as np

__all__ = ["check_sample_size", "check_fraction", "check_choice"]


def check_sample_size(value: int, name: str = "sample_size", minimum: int = 2) -> int:
    """Return ``value`` as an int, or raise ValueError naming ``name`` and the allowed values."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_fraction(value: float, name: str = "fraction") -> float:
    """Return ``value`` as a float in [0, 1], or raise ValueError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return number


def check_choice(value, allowed, name: str):
    """Return ``value`` if it is one of ``allowed``, else raise ValueError naming ``name`` and
    the allowed values."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value
