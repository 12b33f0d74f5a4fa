"""The data root: checksums verified, clear errors, never a download."""
import hashlib

import pytest

from collapse.core import data


def write_dataset(folder, files, sums=None):
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    sums = sums if sums is not None else {
        name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    (folder / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sums.items()))


def test_reads_a_verified_split(tmp_path, monkeypatch):
    write_dataset(tmp_path / data.WIKITEXT, {"wiki.valid.raw": " = A = \n text \n"})
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    assert data.read_wikitext("validation") == " = A = \n text \n"


def test_checksum_mismatch_is_a_clear_error(tmp_path, monkeypatch):
    write_dataset(tmp_path / data.WIKITEXT, {"wiki.valid.raw": "original"})
    (tmp_path / data.WIKITEXT / "wiki.valid.raw").write_text("tampered")
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match="corrupt or not the expected file"):
        data.read_wikitext("validation")


def test_missing_file_says_what_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match=r"wiki\.test\.raw is missing.*COLLAPSE_DATA_DIR"):
        data.wikitext_path("test")


def test_malformed_checksum_file_and_unknown_split(tmp_path, monkeypatch):
    write_dataset(tmp_path / data.WIKITEXT, {"wiki.valid.raw": "x"}, sums={"wiki.valid.raw": "zz"})
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match="expected '<sha256>  <file name>'"):
        data.read_wikitext("validation")
    with pytest.raises(ValueError, match="allowed: train, validation, test"):
        data.wikitext_path("dev")


def test_the_configured_data_root_verifies():
    """The project machines' WikiText-2 copy (validation and test) matches its checksums."""
    root = data.data_root() / data.WIKITEXT
    if not (root / "wiki.valid.raw").is_file():
        pytest.fail(f"WikiText-2 not found under {root}: set COLLAPSE_DATA_DIR (see README)")
    assert data.wikitext_path("validation").stat().st_size > 1_000_000
    assert data.wikitext_path("test").stat().st_size > 1_000_000
