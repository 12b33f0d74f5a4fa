"""Results files: claims are judged by criteria fixed before the run; files are atomic."""
import json
import math

import numpy as np
import pytest

from collapse.publish import claims_page, records


def make_record():
    record = records.ChapterRecord("demo", {"profile": "smoke", "n_seeds": 3})
    record.declare_claim("small", "x is small", paper="x < 1", criterion="x < 1",
                         reproduced_if=lambda x: x < 1, partially_if=lambda x: x < 2,
                         kind="paper", where="Nature, Fig. 1")
    record.declare_claim("sampler", "the sampler is exact", paper="—", criterion="KS p > 0.01",
                         reproduced_if=lambda p: p > 0.01, kind="check",
                         revised="2026-12-02: threshold was 0.05, too strict for 200 seeds")
    return record


@pytest.mark.parametrize("value, verdict", [(0.5, "reproduced"), (1.5, "partially reproduced"),
                                            (2.5, "not reproduced")])
def test_verdict_follows_the_declared_criterion(value, verdict):
    record = make_record()
    assert record.evaluate("small", value, f"{value}") == verdict


def test_saved_file_has_the_design_format(tmp_path):
    record = make_record()
    record.metric("sigma", np.array([1.0, np.nan, 0.25]))
    record.metric("count", np.int64(4))
    record.evaluate("small", 0.1, "0.1")
    record.evaluate("sampler", 0.5, "p = 0.5")
    path = record.save(tmp_path)
    data = json.loads(path.read_text())
    assert path.name == "demo.json"
    assert {"chapter", "profile", "seeds", "wall_seconds", "versions", "git_commit", "metrics",
            "claims"} <= set(data)
    assert data["profile"] == "smoke" and data["seeds"] == 3
    assert data["metrics"] == {"sigma": [1.0, None, 0.25], "count": 4}
    assert data["claims"][0]["verdict"] == "reproduced"
    assert set(data["claims"][0]) >= {"id", "kind", "claim", "where", "paper", "measured",
                                      "criterion", "revised", "verdict"}
    assert [claim["kind"] for claim in data["claims"]] == ["paper", "check"]
    assert data["criteria"] == {"module": "collapse.demo.claims", "path": None, "sha256": None}
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_unevaluated_or_undeclared_claims_are_errors(tmp_path):
    record = make_record()
    with pytest.raises(RuntimeError, match="never evaluated"):
        record.save(tmp_path)
    assert not (tmp_path / "demo.json").exists()
    with pytest.raises(KeyError, match="not declared"):
        record.evaluate("other", 1, "1")
    with pytest.raises(ValueError, match="declared twice"):
        record.declare_claim("small", "again", "", "", lambda x: True)


def test_claims_summary_reads_listed_chapters_and_names_missing_ones(tmp_path):
    record = make_record()
    record.evaluate("small", 3, "3")
    record.evaluate("sampler", 0.5, "p = 0.5")
    record.save(tmp_path)
    summary = claims_page.claims_summary(["demo"], tmp_path)
    # counts are over paper claims; checks are counted apart
    assert summary.counts() == {"reproduced": 0, "partially reproduced": 0, "not reproduced": 1}
    assert summary.counts("check") == {"reproduced": 1, "partially reproduced": 0,
                                       "not reproduced": 0}
    paper, checks = summary.table("paper").data, summary.table("check").data
    assert 'href="demo.html#claim-small"' in paper and "claim-sampler" not in paper
    assert 'href="demo.html#claim-sampler"' in checks and "revised:" in checks
    assert "Nature, Fig. 1" in paper
    assert "1 paper claims" in summary.counts_markdown().data
    with pytest.raises(FileNotFoundError, match="other"):
        claims_page.claims_summary(["demo", "other"], tmp_path)


def test_to_jsonable_turns_non_finite_numbers_into_null():
    assert records.to_jsonable({"a": np.float32(math.inf), "b": (1, np.int8(2))}) == \
        {"a": None, "b": [1, 2]}


def test_a_claim_kind_must_be_paper_or_check():
    record = records.ChapterRecord("demo", {"profile": "smoke"})
    with pytest.raises(ValueError, match="kind must be one of paper, check"):
        record.declare_claim("x", "x", "", "", lambda x: True, kind="identity")


def test_chapter_table_shows_paper_claims_before_checks():
    record = make_record()
    record.evaluate("small", 0.5, "0.5")
    record.evaluate("sampler", 0.5, "p = 0.5")
    page = record.claims_table().data
    assert page.index("Paper claims") < page.index("claim-small") < page.index("Checks") \
        < page.index("claim-sampler")


def test_criteria_trail_reads_git_and_notices_changes(tmp_path):
    """The trail names the criteria file, the commit that last changed it, and whether the
    file is still the one the run used."""
    from collapse.core.io import PROJECT_ROOT, sha256_of
    path = "src/collapse/publish/records.py"  # any tracked file stands in for a claims module
    current = sha256_of(PROJECT_ROOT / path)
    trail = claims_page.criteria_trail({"criteria": {"path": path, "sha256": current}})
    assert trail["file"] == path
    if trail["state"] != "uncommitted":  # a developer's dirty checkout says so instead
        assert trail["state"] == "as run" and trail["commit"] and trail["date"]
        stale = claims_page.criteria_trail({"criteria": {"path": path, "sha256": "0" * 64}})
        assert stale["state"] == "changed since this run"
    assert claims_page.criteria_trail({})["state"] == "unknown"
