"""CITATION.cff validates against the Citation File Format 1.2.0 schema (offline copy)."""
import json
import importlib.util
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def validator():
    # cffconvert ships the official CFF schema; only the schema is used (no network needed)
    # (located without importing cffconvert, whose own dependencies are not installed)
    package = Path(importlib.util.find_spec("cffconvert").submodule_search_locations[0])
    schema = json.loads((package / "schemas" / "1.2.0" / "schema.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def load_cff():
    # CFF dates must stay strings for the schema; YAML would turn them into datetime.date
    text = (ROOT / "CITATION.cff").read_text()
    return yaml.safe_load(text)


def test_citation_file_validates(validator):
    data = load_cff()
    data = json.loads(json.dumps(data, default=str))
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert data["preferred-citation"]["doi"] == "10.1038/s41586-024-07566-y"


def test_the_validator_rejects_a_broken_citation(validator):
    data = json.loads(json.dumps(load_cff(), default=str))
    del data["authors"]
    data["doi"] = "not a doi"
    assert len(list(validator.iter_errors(data))) >= 2
