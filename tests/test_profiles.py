"""Profiles: one module holds every chapter's settings; overrides replace single values."""
import pytest

from collapse.publish import profiles


def test_every_chapter_defines_the_same_keys_in_every_profile():
    for chapter, by_profile in profiles.PROFILES.items():
        assert set(by_profile) == set(profiles.PROFILE_NAMES), chapter
        keys = {profile: set(values) for profile, values in by_profile.items()}
        assert keys["smoke"] == keys["book"] == keys["paper"], chapter


def test_override_replaces_one_value_and_none_keeps_the_profile_value():
    book = profiles.settings("gaussian", "book")
    changed = profiles.settings("gaussian", "book", n_seeds=7, seed=None)
    assert changed.n_seeds == 7 and changed["seed"] == book.seed
    assert {k: v for k, v in changed.items() if k != "n_seeds"} == \
        {k: v for k, v in book.items() if k != "n_seeds"}
    assert changed.profile == "book" and changed.chapter == "gaussian"


def test_settings_are_copies():
    first = profiles.settings("gaussian", "smoke")
    first["sample_sizes"].append(-1)
    assert -1 not in profiles.settings("gaussian", "smoke").sample_sizes


@pytest.mark.parametrize("call, message", [
    (lambda: profiles.settings("gaussian", "huge"), "unknown profile 'huge'; allowed: smoke, book, paper"),
    (lambda: profiles.settings("nope", "book"), "unknown chapter 'nope'"),
    (lambda: profiles.settings("gaussian", "book", n_sedes=3), "unknown setting 'n_sedes'"),
])
def test_bad_names_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
