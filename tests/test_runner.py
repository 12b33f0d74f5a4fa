"""The runner: executes chapters under a profile, skips unchanged ones, fails loudly, builds HTML.

These tests use a tiny book in a temporary folder (never the user's _build).
"""
import json
import re

import pytest

from collapse.publish import cache, runner


def test_chapters_come_from_the_toc_with_their_dependencies(mini):
    root, _ = mini
    chapters = runner.book_chapters(root)
    assert [c.name for c in chapters] == ["tiny", "tiny2", "claims"]
    assert chapters[-1].needs == ("tiny", "tiny2")
    assert runner.notebook_parameters(chapters[0].source) == {"profile", "draws", "fail"}


@pytest.mark.slow
def test_build_runs_in_parallel_skips_unchanged_and_builds_html(mini, capsys, monkeypatch):
    root, paths = mini
    # the code fingerprint is pinned so an edit in src/ during the test cannot rerun chapters;
    # test_a_key_changes_with_profile_overrides_and_code covers the fingerprint itself
    monkeypatch.setattr(cache, "code_fingerprint", lambda source, package_dir=None: {"x": "1"})
    chapters = runner.book_chapters(root)
    report = runner.run_chapters(chapters, "smoke", {"tiny": {"draws": 50}}, paths, jobs=2)
    assert {name: item["status"] for name, item in report.items()} == \
        {"tiny": "ran", "tiny2": "ran", "claims": "ran"}
    assert "done in" in capsys.readouterr().err  # progress with wall time
    tiny = json.loads((paths.results / "tiny.json").read_text())
    assert tiny["profile"] == "smoke" and tiny["metrics"]["draws"] == 50  # override applied
    # the executed notebook sits in the build directory, never beside the source
    assert paths.executed(chapters[0]).is_file()
    assert not (root / "book" / "tiny.ipynb").exists()

    # stale pages of an older layout are removed before Sphinx sees them (a leftover .md beside
    # the executed .ipynb would be two sources for one document)
    for stale in ("book/tiny.md", "book/images/old.svg"):
        (paths.site / stale).parent.mkdir(parents=True, exist_ok=True)
        (paths.site / stale).write_text("stale")
    digest = runner.stage_site(chapters, paths, project_root=root)
    assert not (paths.site / "book" / "tiny.md").exists()
    assert not (paths.site / "book" / "images").exists()
    assert (paths.site / "book" / "tiny.ipynb").is_file()
    assert runner.build_html(paths, digest) is True
    for page in ("book/intro", "book/tiny", "book/tiny2", "book/claims", "book/bibliography"):
        assert (paths.html / f"{page}.html").is_file(), page
    tiny_html = (paths.html / "book" / "tiny.html").read_text()
    assert "Fig. 1" in tiny_html and "Reproducibility" in tiny_html
    claims_html = (paths.html / "book" / "claims.html").read_text()
    assert claims_html.count("reproduced") >= 2 and 'href="tiny2.html"' in claims_html

    # nothing changed: everything is skipped and the HTML is not rebuilt
    again = runner.run_chapters(chapters, "smoke", {"tiny": {"draws": 50}}, paths, jobs=2)
    assert {item["status"] for item in again.values()} == {"skipped"}
    assert runner.build_html(paths, runner.stage_site(chapters, paths, project_root=root)) \
        is False

    # a new parameter value reruns that chapter and, through its results, the claims page
    third = runner.run_chapters(chapters, "smoke", {"tiny": {"draws": 60}}, paths, jobs=1)
    assert {n: i["status"] for n, i in third.items()} == \
        {"tiny": "ran", "tiny2": "skipped", "claims": "ran"}
    # a deleted results file is noticed
    (paths.results / "tiny2.json").unlink()
    fourth = runner.run_chapters(chapters, "smoke", {"tiny": {"draws": 60}}, paths)
    assert fourth["tiny2"]["status"] == "ran"
    capsys.readouterr()

    # a results file truncated behind the cache's back is noticed and recomputed
    (paths.results / "tiny.json").write_text('{"chapter": "ti')
    fifth = runner.run_chapters(chapters, "smoke", {"tiny": {"draws": 60}}, paths)
    assert fifth["tiny"]["status"] == "ran" and fifth["tiny2"]["status"] == "skipped"
    assert "tiny.json changed since it was written" in capsys.readouterr().err
    json.loads((paths.results / "tiny.json").read_text())
    # a run that fails under --force moves the old outputs aside and marks the built pages
    with pytest.raises(runner.ChapterFailed):
        runner.run_chapters(chapters, "smoke", {"tiny": {"fail": True}}, paths, force=True)
    assert not (paths.results / "tiny.json").exists()
    assert not paths.executed(chapters[0]).exists()
    assert (paths.stale / "results" / "tiny.json").is_file()
    page = (paths.html / "book" / "tiny.html").read_text()
    assert "This page is from an earlier run" in page and "this chapter was asked to fail" in page
    assert "uses the results of tiny" in (paths.html / "book" / "claims.html").read_text()
    assert "earlier run" not in (paths.html / "book" / "tiny2.html").read_text()
    # the next successful build replaces the marked pages
    assert runner.run_chapters(chapters, "smoke", {}, paths)["tiny"]["status"] == "ran"
    assert runner.build_html(paths, runner.stage_site(chapters, paths, project_root=root))
    for name in ("tiny", "claims"):
        assert "earlier run" not in (paths.html / "book" / f"{name}.html").read_text(), name


@pytest.mark.slow
def test_a_failing_chapter_stops_the_build_with_its_traceback(mini, capsys):
    root, paths = mini
    chapters = runner.book_chapters(root)
    with pytest.raises(runner.ChapterFailed) as failure:
        runner.run_chapters(chapters, "smoke", {"tiny": {"fail": True}}, paths, jobs=1)
    message = str(failure.value)
    assert "this chapter was asked to fail" in message and "RuntimeError" in message
    assert "raise RuntimeError" in message  # the failing cell's source
    assert not re.search(r"\x1b\[", message)
    assert not (paths.results / "claims.json").exists()
    assert not paths.executed(chapters[-1]).exists()  # later chapters did not run


@pytest.mark.slow
def test_command_line_exit_codes(mini, monkeypatch, capsys, tmp_path):
    root, paths = mini
    chapter = str(root / "book" / "tiny.md")
    out = ["--output-root", str(paths.root)]
    assert runner.main(["run", chapter, "--profile", "smoke", "-p", "fail=true", *out]) == 1
    assert "this chapter was asked to fail" in capsys.readouterr().err
    assert runner.main(["run", chapter, "--profile", "huge", *out]) == 2
    assert "unknown profile 'huge'; allowed: smoke, book, paper" in capsys.readouterr().err
    assert runner.main(["run", chapter, "-p", "n_sedes=3", *out]) == 2
    assert "n_sedes" in capsys.readouterr().err
    assert runner.main(["run", chapter, "--profile", "smoke", "-p", "draws=20", *out]) == 0
    scratch = runner.BuildPaths(paths.root, "smoke", scratch=True)   # never the book's folder
    assert json.loads((scratch.results / "tiny.json").read_text())["metrics"]["draws"] == 20
    assert not paths.results.exists()


def test_overrides_are_parsed_as_yaml_and_routed_to_chapters(mini):
    root, _ = mini
    chapters = runner.book_chapters(root)
    routed = runner.split_overrides(["draws=5", "tiny2.fail=false", "x.y=[1, 2]"][:2], chapters)
    assert routed["tiny"] == {"draws": 5} and routed["tiny2"] == {"draws": 5, "fail": False}
    with pytest.raises(ValueError, match="unknown chapter 'x'"):
        runner.split_overrides(["x.y=[1, 2]"], chapters)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        runner.split_overrides(["draws"], chapters)
    with pytest.raises(ValueError, match="no chapter being run takes a parameter 'nope'"):
        runner.split_overrides(["nope=1"], chapters)


def test_bad_jobs_and_profile_are_rejected(mini):
    root, paths = mini
    chapters = runner.book_chapters(root)
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        runner.run_chapters(chapters, "smoke", {}, paths, jobs=0)
    with pytest.raises(ValueError, match="unknown profile"):
        runner.run_chapters(chapters, "fast", {}, paths)


def test_a_key_changes_with_profile_overrides_and_code(mini, monkeypatch):
    root, paths = mini
    chapter = runner.book_chapters(root)[0]

    def key(profile="smoke", overrides=None):
        return cache.key_of(cache.key_parts(chapter, profile, overrides or {}, paths.results))

    assert key() == key()
    assert key() != key("book") and key() != key(overrides={"draws": 3})
    parts = cache.key_parts(chapter, "smoke", {}, paths.results)
    assert "collapse/publish/records.py" in parts["code"]
    monkeypatch.setattr(cache, "code_fingerprint",
                        lambda source, package_dir=None: {**parts["code"], "x.py": "edited"})
    assert key() != cache.key_of(parts)
    assert "code changed (x.py)" in cache._changes(
        parts, cache.key_parts(chapter, "smoke", {}, paths.results))
