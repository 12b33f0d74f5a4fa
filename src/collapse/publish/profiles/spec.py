"""What a chapter setting may be: one small spec per setting, declared beside the chapter's
``PROFILES`` in ``SCHEMA`` (``profiles/<chapter>.py``).

A spec checks a value and returns it in its canonical type, or raises :class:`SettingError`
(a ValueError) naming the setting and the allowed values::

    SCHEMA = {"n_seeds": Integer(minimum=1), "sample_sizes": ListOf(Integer(minimum=2)),
              "kl_weight": Number(above=0), "backend": Choice("loky", "threading")}

The runner checks every ``-p`` override against these before any chapter runs;
:func:`collapse.publish.profiles.settings` checks them again inside the notebook.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Mapping

__all__ = ["SettingError", "Spec", "Integer", "Number", "Flag", "Text", "Choice", "ListOf",
           "Record", "MappingOf", "Optional", "PolicyName", "Where"]


class SettingError(ValueError):
    """A setting's value is not allowed; the message names the setting and what is allowed."""


class Spec:
    """One setting's type and range. Subclasses implement :meth:`describe` and :meth:`_check`."""

    def describe(self) -> str:
        """What is allowed, as a phrase: "an integer >= 1"."""
        raise NotImplementedError

    def _check(self, value: Any, name: str) -> Any:
        raise NotImplementedError

    def check(self, value: Any, name: str) -> Any:
        """``value`` in its canonical type, or SettingError naming ``name``."""
        return self._check(value, name)

    def fail(self, value: Any, name: str):
        raise SettingError(f"{name} must be {self.describe()}; got {value!r}")


def _bound_phrase(minimum=None, maximum=None, above=None, below=None) -> str:
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum}")
    if above is not None:
        parts.append(f"> {above}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    if below is not None:
        parts.append(f"< {below}")
    return " and ".join(parts)


class Integer(Spec):
    """An int (not a bool, not 2.0) within ``[minimum, maximum]``."""

    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum

    def describe(self) -> str:
        bounds = _bound_phrase(self.minimum, self.maximum)
        return "an integer" + (f" {bounds}" if bounds else "")

    def _check(self, value, name):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            self.fail(value, name)
        if (self.minimum is not None and value < self.minimum) or \
                (self.maximum is not None and value > self.maximum):
            self.fail(value, name)
        return int(value)


class Number(Spec):
    """A finite real number (ints accepted) within the given bounds (``above``/``below``:
    strict)."""

    def __init__(self, minimum: float | None = None, maximum: float | None = None, *,
                 above: float | None = None, below: float | None = None):
        self.bounds = dict(minimum=minimum, maximum=maximum, above=above, below=below)

    def describe(self) -> str:
        bounds = _bound_phrase(**self.bounds)
        return "a finite number" + (f" {bounds}" if bounds else "")

    def _check(self, value, name):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(float(value)):
            self.fail(value, name)
        number, b = float(value), self.bounds
        if (b["minimum"] is not None and number < b["minimum"]) or \
                (b["maximum"] is not None and number > b["maximum"]) or \
                (b["above"] is not None and number <= b["above"]) or \
                (b["below"] is not None and number >= b["below"]):
            self.fail(value, name)
        return number


class Flag(Spec):
    """true or false."""

    def describe(self) -> str:
        return "true or false"

    def _check(self, value, name):
        if not isinstance(value, bool):
            self.fail(value, name)
        return value


class Text(Spec):
    """A non-empty string."""

    def describe(self) -> str:
        return "a non-empty string"

    def _check(self, value, name):
        if not isinstance(value, str) or not value:
            self.fail(value, name)
        return value


class Choice(Spec):
    """One of a fixed set of values."""

    def __init__(self, *allowed: Any):
        self.allowed = allowed

    def describe(self) -> str:
        return "one of " + ", ".join(repr(value) for value in self.allowed)

    def _check(self, value, name):
        if isinstance(value, (list, dict)) or value not in self.allowed or \
                (isinstance(value, bool) and not any(a is value for a in self.allowed)):
            self.fail(value, name)
        return value


class PolicyName(Spec):
    """A data policy name :func:`collapse.core.policies.policy_from_name` accepts
    (``"replace"``, ``"mix_real(0.1)"``, ...); ``allowed`` restricts the base names."""

    def __init__(self, allowed: tuple[str, ...] | None = None):
        from ...core.policies import POLICY_NAMES
        self.allowed = tuple(allowed or POLICY_NAMES)

    def describe(self) -> str:
        names = [f"mix_real(f) with f in [0, 1]" if name == "mix_real" else repr(name)
                 for name in self.allowed]
        return "a data policy: one of " + ", ".join(names)

    def _check(self, value, name):
        from ...core.policies import policy_from_name
        if not isinstance(value, str):
            self.fail(value, name)
        base = value.partition("(")[0]
        if base not in self.allowed:
            self.fail(value, name)
        try:
            policy_from_name(value, sample_size=2)
        except (ValueError, TypeError):
            self.fail(value, name)
        return value


class ListOf(Spec):
    """A list whose items all match ``item``: at least ``min_length`` of them, optionally
    without repeats or strictly increasing."""

    def __init__(self, item: Spec, min_length: int = 1, *, unique: bool = False,
                 increasing: bool = False):
        self.item, self.min_length = item, min_length
        self.unique, self.increasing = unique, increasing

    def describe(self) -> str:
        size = "a non-empty list" if self.min_length == 1 else \
            f"a list of at least {self.min_length} items" if self.min_length else "a list"
        order = ", strictly increasing" if self.increasing else \
            ", without repeats" if self.unique else ""
        return f"{size}{order}, each {self.item.describe()}"

    def _check(self, value, name):
        if not isinstance(value, (list, tuple)) or len(value) < self.min_length:
            self.fail(value, name)
        items = [self.item.check(item, f"{name}[{index}]") for index, item in enumerate(value)]
        if self.unique and len({repr(item) for item in items}) != len(items):
            self.fail(value, name)
        if self.increasing and any(b <= a for a, b in zip(items, items[1:])):
            self.fail(value, name)
        return items


class Record(Spec):
    """A mapping with exactly the given keys, each checked by its own spec."""

    def __init__(self, fields: Mapping[str, Spec]):
        self.fields = dict(fields)

    def describe(self) -> str:
        return "a mapping with keys " + ", ".join(self.fields)

    def _check(self, value, name):
        if not isinstance(value, Mapping) or set(value) != set(self.fields):
            self.fail(value, name)
        return {key: spec.check(value[key], f"{name}.{key}") for key, spec in self.fields.items()}


class MappingOf(Spec):
    """A non-empty mapping from string keys to values matching ``value``."""

    def __init__(self, value: Spec):
        self.value = value

    def describe(self) -> str:
        return f"a non-empty mapping from names to {self.value.describe()}"

    def _check(self, value, name):
        if not isinstance(value, Mapping) or not value or \
                not all(isinstance(key, str) and key for key in value):
            self.fail(value, name)
        return {key: self.value.check(item, f"{name}[{key!r}]") for key, item in value.items()}


class Optional(Spec):
    """None (the meaning is the chapter's, e.g. "all blocks") or a value matching ``spec``."""

    def __init__(self, spec: Spec):
        self.spec = spec

    def describe(self) -> str:
        return f"null or {self.spec.describe()}"

    def _check(self, value, name):
        return None if value is None else self.spec.check(value, name)


class Where(Spec):
    """``spec`` plus a condition on the checked value (``test(value) -> bool``), described by
    ``condition`` ("with every level in (0, 1)")."""

    def __init__(self, spec: Spec, test: Callable[[Any], bool], condition: str):
        self.spec, self.test, self.condition = spec, test, condition

    def describe(self) -> str:
        return f"{self.spec.describe()} {self.condition}"

    def _check(self, value, name):
        checked = self.spec.check(value, name)
        if not self.test(checked):
            self.fail(value, name)
        return checked
