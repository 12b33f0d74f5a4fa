"""Results files: claims are judged by criteria fixed before the run; files are atomic."""
import json
import math

import numpy as np
import pytest

from collapse.publish import claims_page, records


def make_record():
    record = records.ChapterRecord("demo", {"profile": "smoke", "n_seeds": 3})
    record.declare_claim("small", "x is small", paper="x < 1", criterion="x < 1",
                         reproduced_if=lambda x: x < 1, partially_if=lambda x: x < 2)
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
    path = record.save(tmp_path)
    data = json.loads(path.read_text())
    assert path.name == "demo.json"
    assert {"chapter", "profile", "seeds", "wall_seconds", "versions", "git_commit", "metrics",
            "claims"} <= set(data)
    assert data["profile"] == "smoke" and data["seeds"] == 3
    assert data["metrics"] == {"sigma": [1.0, None, 0.25], "count": 4}
    assert data["claims"][0]["verdict"] == "reproduced"
    assert set(data["claims"][0]) >= {"id", "claim", "paper", "measured", "criterion", "verdict"}
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
    record.save(tmp_path)
    summary = claims_page.claims_summary(["demo"], tmp_path)
    assert summary.counts() == {"reproduced": 0, "partially reproduced": 0, "not reproduced": 1}
    assert 'href="demo.html"' in summary.table().data
    with pytest.raises(FileNotFoundError, match="other"):
        claims_page.claims_summary(["demo", "other"], tmp_path)


def test_to_jsonable_turns_non_finite_numbers_into_null():
    assert records.to_jsonable({"a": np.float32(math.inf), "b": (1, np.int8(2))}) == \
        {"a": None, "b": [1, 2]}
