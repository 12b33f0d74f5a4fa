"""Every chapter's settings under the three profiles, in one place (DESIGN.md, "Profiles").

* ``smoke``: seconds per chapter; used by the tests and the CI book build.
* ``book`` (default): what the published HTML shows; runs on a 2-core CPU.
* ``paper``: the authors' own scale; meant for a GPU machine with network access.

A chapter asks for its settings with ``settings("gaussian", profile, n_seeds=n_seeds, ...)``;
an override that is ``None`` keeps the profile's value, any other value replaces it.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

PROFILE_NAMES = ("smoke", "book", "paper")

# chapter -> profile -> setting -> value. Keep every profile of a chapter on the same keys.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # ------------------------------------------------------------------ gaussian
    "gaussian": {
        "smoke": {
            "seed": 20240724,
            "authors_sample_sizes": [100, 500, 1000, 10000],
            "authors_generations": 1000,
            "n_seeds": 200,
            "sample_sizes": [100, 1000, 10000],
            "n_generations": 1000,
            "policy_sample_size": 100,
            "policy_generations": 200,
            "policy_seeds": 100,
            "non_gaussian_seeds": 100,
            "sampler_benchmark_seeds": 50,
            "sampler_benchmark_generations": 50,
        },
        "book": {
            "seed": 20240724,
            "authors_sample_sizes": [100, 500, 1000, 10000],
            "authors_generations": 1000,
            "n_seeds": 1000,
            "sample_sizes": [100, 1000, 10000, 100000],
            "n_generations": 10000,
            "policy_sample_size": 100,
            "policy_generations": 1000,
            "policy_seeds": 1000,
            "non_gaussian_seeds": 1000,
            "sampler_benchmark_seeds": 200,
            "sampler_benchmark_generations": 200,
        },
        "paper": {
            "seed": 20240724,
            "authors_sample_sizes": [100, 500, 1000, 10000],
            "authors_generations": 1000,
            "n_seeds": 10000,
            "sample_sizes": [100, 1000, 10000, 100000],
            "n_generations": 10000,
            "policy_sample_size": 100,
            "policy_generations": 1000,
            "policy_seeds": 10000,
            "non_gaussian_seeds": 10000,
            "sampler_benchmark_seeds": 1000,
            "sampler_benchmark_generations": 200,
        },
    },
}


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
