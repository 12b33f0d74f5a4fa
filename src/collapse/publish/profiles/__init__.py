"""Every chapter's settings under the three profiles (DESIGN.md, "Profiles"): one module per
chapter in this package (``profiles/gaussian.py``, ...), each holding ``PROFILES``.

* ``smoke``: seconds per chapter; used by the tests and the CI book build.
* ``book`` (default): what the published HTML shows; runs on a 2-core CPU.
* ``paper``: the authors' own scale; meant for a GPU machine with network access.

A chapter asks for its settings with ``settings("gaussian", profile, n_seeds=n_seeds, ...)``;
an override that is ``None`` keeps the profile's value, any other value replaces it.
"""
from __future__ import annotations

import copy
from importlib import import_module
from typing import Any, Mapping

PROFILE_NAMES = ("smoke", "book", "paper")

CHAPTERS = ("gaussian", "gaussian_nd", "discrete", "gmm", "vae", "language_model", "error_sources", "escaping")

# chapter -> profile -> setting -> value. Keep every profile of a chapter on the same keys.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    name: import_module(f"{__name__}.{name}").PROFILES for name in CHAPTERS}


class Settings(dict):
    """A chapter's settings: a dict whose keys are also attributes (``settings.n_seeds``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def settings(chapter: str, profile: str = "book", **overrides: Any) -> Settings:
    """The settings of ``chapter`` under ``profile``, with non-None ``overrides`` applied.

    Raises ValueError naming the allowed values for an unknown chapter, profile or setting.
    The result also holds ``chapter`` and ``profile``.
    """
    if chapter not in PROFILES:
        raise ValueError(f"unknown chapter {chapter!r}; allowed: {', '.join(sorted(PROFILES))}")
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILE_NAMES)}")
    values: Mapping[str, Any] = PROFILES[chapter][profile]
    result = Settings(copy.deepcopy(dict(values)))
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in values:
            raise ValueError(f"unknown setting {name!r} for chapter {chapter!r}; allowed: "
                             f"{', '.join(sorted(values))}")
        result[name] = value
    result["chapter"], result["profile"] = chapter, profile
    return result
