"""Test set-up: no network, caches inside the project, the data root on the shared copy."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["COLLAPSE_OFFLINE"] = "1"   # no dataset is ever fetched from the internet in tests
_shared_data = PROJECT_ROOT.parent / "shared" / "data"
if "COLLAPSE_DATA_DIR" not in os.environ and _shared_data.is_dir() \
        and not (PROJECT_ROOT / "data" / "wikitext-2-raw-v1").is_dir():
    os.environ["COLLAPSE_DATA_DIR"] = str(_shared_data)

from collapse.publish import runner  # noqa: E402  (after the environment is set)

runner.configure_environment(PROJECT_ROOT)


def make_mini_project(root: Path, chapters: dict[str, str]) -> Path:
    """A minimal book in ``root``: the real configuration, intro, claims and bibliography pages,
    plus ``chapters`` (name -> MyST notebook text) between the intro and the claims page."""
    (root / "book").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "_config.yml", root / "_config.yml")
    for page in ("claims.md", "bibliography.md", "references.bib"):
        shutil.copy(PROJECT_ROOT / "book" / page, root / "book" / page)
    shutil.copytree(PROJECT_ROOT / "book" / "extra", root / "book" / "extra")
    (root / "book" / "intro.md").write_text("# A test book\n\nSee {cite}`shumailov2024curse`.\n")
    for name, text in chapters.items():
        (root / "book" / f"{name}.md").write_text(text)
    entries = "".join(f"  - file: book/{name}\n" for name in chapters)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n" + entries
                                   + "  - file: book/claims\n  - file: book/bibliography\n")
    return root


@pytest.fixture
def tiny_chapter_text() -> str:
    return (FIXTURES / "tiny_chapter.md").read_text()


@pytest.fixture
def mini(tmp_path, tiny_chapter_text):
    """A mini book of two tiny chapters and the claims page; (project root, build paths)."""
    other = tiny_chapter_text.replace('"tiny"', '"tiny2"').replace("fig-tiny-", "fig-tiny2-") \
        .replace("# A tiny chapter", "# Another tiny chapter")
    root = make_mini_project(tmp_path / "project", {"tiny": tiny_chapter_text, "tiny2": other})
    return root, runner.BuildPaths(tmp_path / "out", "smoke")


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """The real book built under the smoke profile into a temporary folder (once per session)."""
    output_root = tmp_path_factory.mktemp("smoke-book")
    status = runner.main(["build", "--profile", "smoke", "-j", "2",
                          "--output-root", str(output_root)])
    assert status == 0, "collapse build --profile smoke failed (see the captured stderr)"
    return runner.BuildPaths(output_root, "smoke")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "negative_control(chapter, *claim_ids): this test runs the named paper "
        "claims' own criteria on a run without the claimed effect and expects 'not reproduced' "
        "(tests/test_claims_registry.py checks every paper claim has one)")
