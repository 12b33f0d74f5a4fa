"""Every paper claim of every chapter can fail, and a test shows it.

A *paper claim* (a statement the paper makes) must have a *negative control*: a test marked
``@pytest.mark.negative_control(chapter, claim_id, ...)`` that runs the claim's own criterion
(the function in ``collapse.<chapter>.claims``) on a small run in which the claimed effect is
absent and asserts "not reproduced" (and, where cheap, "reproduced" on a run with the effect).
This test enumerates the declared claims of every chapter of the toc (declaring claims runs no
experiment) and fails for a paper claim without a negative control or without a source.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

from collapse.publish import profiles, records, runner
from conftest import PROJECT_ROOT

TESTS = Path(__file__).resolve().parent
# Chapters whose claims are not yet classified and guarded (issue 12 is converting them one
# chapter at a time). Remove a chapter from here when every paper claim of it has a source and
# a negative control; the set must end empty.
PENDING: set[str] = set()


def declared_claims() -> dict[str, list[records.Claim]]:
    """chapter -> its declared claims, from ``collapse.<chapter>.declare_claims`` (smoke)."""
    declared = {}
    for chapter in runner.book_chapters(PROJECT_ROOT):
        if chapter.gathers:  # the landing and claims pages declare no claims
            continue
        package = importlib.import_module(f"collapse.{chapter.name}")
        settings = profiles.settings(chapter.name, "smoke")
        record = records.ChapterRecord(chapter.name, settings)
        package.declare_claims(record, settings)
        declared[chapter.name] = list(record.claims.values())
    return declared


def negative_controls() -> dict[tuple[str, str], list[str]]:
    """(chapter, claim id) -> the tests marked as its negative control, read from the marks of
    every test function of every test module."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(TESTS.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"_registry_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, function in vars(module).items():
            if not name.startswith("test_") or not callable(function):
                continue
            for mark in getattr(function, "pytestmark", []):
                if mark.name == "negative_control":
                    chapter, *claim_ids = mark.args
                    for claim_id in claim_ids:
                        found.setdefault((chapter, claim_id), []).append(
                            f"{path.name}::{name}")
    return found


def unguarded(declared: dict[str, list[records.Claim]],
              controls: dict[tuple[str, str], list[str]]) -> tuple[list[str], list[str]]:
    """(paper claims without a negative control, paper claims without a source)."""
    papers = [(chapter, claim) for chapter, claims in declared.items() for claim in claims
              if claim.kind == "paper"]
    return ([f"{chapter}/{claim.id}" for chapter, claim in papers
             if (chapter, claim.id) not in controls],
            [f"{chapter}/{claim.id}" for chapter, claim in papers if not claim.where.strip()])


def test_every_paper_claim_has_a_source_and_a_negative_control():
    declared = {chapter: claims for chapter, claims in declared_claims().items()
                if chapter not in PENDING}
    missing_control, missing_source = unguarded(declared, negative_controls())
    assert not missing_source, f"paper claims without 'where' (section, figure, code): " \
                               f"{missing_source}"
    assert not missing_control, f"paper claims without a negative control test: " \
                                f"{missing_control}"


def test_every_negative_control_names_a_declared_paper_claim():
    declared = {(chapter, claim.id): claim for chapter, claims in declared_claims().items()
                for claim in claims}
    for (chapter, claim_id), tests in negative_controls().items():
        assert (chapter, claim_id) in declared, f"{tests} control an undeclared claim " \
                                                f"{chapter}/{claim_id}"
        assert declared[chapter, claim_id].kind == "paper", \
            f"{tests}: {chapter}/{claim_id} is a check, not a paper claim"


def test_the_registry_check_can_fail():
    """With no marked tests every paper claim is reported: the check above is not vacuous."""
    declared = declared_claims()
    missing_control, _ = unguarded(declared, {})
    assert missing_control and len(missing_control) == sum(
        claim.kind == "paper" for claims in declared.values() for claim in claims)


def test_pending_chapters_are_real_chapters():
    assert PENDING <= set(declared_claims())
