"""Every chapter's settings under the three profiles (DESIGN.md, "Profiles"): one module per
chapter in this package (``profiles/gaussian.py``, ...), each holding ``PROFILES`` and
``SCHEMA`` (setting -> :mod:`~collapse.publish.profiles.spec`: its type and range). Every
setting a chapter lets users override (its notebook parameters) must have a schema entry
(``tests/test_hardening.py`` checks it); other settings may have one.

* ``smoke``: seconds per chapter; used by the tests and the CI book build.
* ``book`` (default): what the published HTML shows; runs on a 2-core CPU.
* ``paper``: the authors' own scale; meant for a GPU machine with network access.

A chapter asks for its settings with ``settings("gaussian", profile, n_seeds=n_seeds, ...)``;
an override that is ``None`` keeps the profile's value, any other value replaces it after
its schema entry accepted it.
"""
from __future__ import annotations

import copy
from importlib import import_module
from typing import Any, Mapping

from .spec import SettingError, Spec

PROFILE_NAMES = ("smoke", "book", "paper")

CHAPTERS = ("gaussian", "gaussian_nd", "discrete", "gmm", "vae", "language_model", "error_sources",
            "escaping", "curation")

# chapter -> profile -> setting -> value. Keep every profile of a chapter on the same keys.
_MODULES = {name: import_module(f"{__name__}.{name}") for name in CHAPTERS}
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    name: module.PROFILES for name, module in _MODULES.items()}
# chapter -> setting -> spec (what an override may be)
SCHEMA: dict[str, dict[str, Spec]] = {
    name: dict(getattr(module, "SCHEMA", {})) for name, module in _MODULES.items()}


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
    result.update({name: value for name, value in check_overrides(chapter, overrides).items()
                   if value is not None})
    result["chapter"], result["profile"] = chapter, profile
    return result


def check_overrides(chapter: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` of ``chapter``'s settings, each checked against its schema entry and
    returned in its canonical type. SettingError (a ValueError) names the setting and the
    allowed values: an unknown setting, ``profile`` (chosen with ``--profile``), a value of the
    wrong type or out of range."""
    if chapter not in PROFILES:
        raise ValueError(f"unknown chapter {chapter!r}; allowed: {', '.join(sorted(PROFILES))}")
    known, schema = PROFILES[chapter]["book"], SCHEMA[chapter]
    checked = {}
    for name, value in overrides.items():
        if name == "profile":
            raise SettingError(f"{chapter}: 'profile' is not a setting to override; choose "
                               f"the profile with --profile ({', '.join(PROFILE_NAMES)})")
        if name not in known:
            raise SettingError(f"unknown setting {name!r} for chapter {chapter!r}; allowed: "
                               f"{', '.join(sorted(known))}")
        spec = schema.get(name)
        if value is None:  # None keeps the profile's value
            checked[name] = None
            continue
        try:
            checked[name] = value if spec is None else spec.check(value, name)
        except SettingError as error:
            raise SettingError(f"{chapter}: {error}") from None
    return checked
