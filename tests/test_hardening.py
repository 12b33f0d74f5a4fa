"""Hardening (issue 17): bad input is named before any work, the cache cannot lie, one build at
a time per build folder, Ctrl-C stops a chapter, results do not depend on the run.

Runner tests use a tiny book in a temporary folder (never the user's _build); the slow ones
execute real kernels. A truncated results file, a failed --force run and the stale pages are
tested along the runner's own build test (tests/test_runner.py, which builds the HTML once).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from collapse.publish import cache, chapters, profiles, records, runner
from collapse.publish.lock import BuildBusy, BuildLock
from conftest import FIXTURES, PROJECT_ROOT

BOOK = [c for c in runner.book_chapters(PROJECT_ROOT) if c.name in profiles.CHAPTERS]


# ----------------------------------------------------------------------------- bad input
INTEGER = ["abc", "-3", "2.5", "0", "[3]", "true"]
GENERATIONS = ["abc", "-1", "0", "1.5", "[10]"]
SEED = ["-1", "1.5", "abc", "[1]"]
#: chapter -> parameter -> bad values (YAML text as typed after -p NAME=)
BAD = {
    "gaussian": {"n_seeds": INTEGER + ["1"], "sample_sizes": ["[]", "[1, 100]", "100",
                                                              "[100, abc]", "[100, 100]"],
                 "n_generations": GENERATIONS, "policy_sample_size": ["1", "x", "1e3"],
                 "naive_policy_seeds": INTEGER, "seed": SEED},
    "discrete": {name: INTEGER for name in ("absorption_chains", "zipf_chains",
                                            "wikitext_chains", "policy_chains")}
    | {"wikitext_generations": GENERATIONS, "policy_generations": GENERATIONS},
    "gmm": {"n_seeds": INTEGER, "n_points": ["5", "abc", "100.5"], "n_generations": GENERATIONS,
            "policies": ["[]", "replace", '["replace", "bogus"]', '["mix_real(2)"]',
                         '["replace", "replace"]'],
            "sample_size_runs": ["{n_points: 100}", "[{n_points: 5, n_seeds: 2, n_generations: 3}]",
                                 "[{n_points: 100}]", "[3]"],
            "tail_samples": ["10", "abc"], "n_jobs": ["0", "abc"], "seed": SEED},
    "vae": {"n_seeds": INTEGER, "n_generations": GENERATIONS, "epochs": INTEGER,
            "authors_seeds": INTEGER, "authors_epochs": INTEGER,
            "n_jobs": ["0", "2.5"], "seed": SEED},
    "language_model": {"n_seeds": INTEGER, "n_generations": GENERATIONS,
                       "chain_blocks": ["0", "1", "abc", "2.5"],
                       "smollm2": ["true", "1", "abc"],
                       "prompt_source": ["bogus", "1"], "n_jobs": ["0", "abc"],
                       "backend": ["bogus", "1", "ray"]},
    "error_sources": {"n_seeds": INTEGER, "n_generations": GENERATIONS, "kde_seeds": INTEGER,
                      "kde_generations": GENERATIONS, "em_generations": GENERATIONS,
                      "seed": SEED},
    "gaussian_nd": {"theorem_seeds": INTEGER + ["1"], "grid_seeds": INTEGER + ["1"],
                    "n_jobs": ["0", "abc"], "seed": SEED},
    "curation": {"n_seeds": INTEGER + ["1"], "n_generations": GENERATIONS,
                 "ring_seeds": INTEGER, "ring_generations": GENERATIONS,
                 "correction_seeds": INTEGER, "seed": SEED},
    "escaping": {"n_generations": GENERATIONS, "gaussian_seeds": INTEGER, "gmm_seeds": INTEGER,
                 "vae_seeds": INTEGER, "vae_jobs": ["0", "abc"], "seed": SEED},
}


def test_the_table_covers_every_overridable_parameter_of_every_chapter():
    assert {c.name for c in BOOK} == set(BAD)
    for chapter in BOOK:
        assert set(BAD[chapter.name]) == chapters.overridable_parameters(chapter.source), \
            chapter.name


def test_every_overridable_parameter_has_a_schema_entry_its_profiles_satisfy():
    for chapter in BOOK:
        schema = profiles.SCHEMA[chapter.name]
        for name in chapters.overridable_parameters(chapter.source):
            assert name in schema, f"{chapter.name}: parameter {name!r} has no schema entry " \
                f"(declare it in SCHEMA of profiles/{chapter.name}.py)"
    for name, schema in profiles.SCHEMA.items():
        for profile in profiles.PROFILE_NAMES:
            values = profiles.PROFILES[name][profile]
            for setting, spec in schema.items():
                assert setting in values, f"{name}: schema names unknown setting {setting!r}"
                spec.check(values[setting], setting)  # a profile's own value is allowed


def test_the_language_model_choices_are_the_chapters_own():
    from collapse.language_model.family import PROMPT_SOURCES
    assert profiles.SCHEMA["language_model"]["prompt_source"].allowed == tuple(PROMPT_SOURCES)


@pytest.mark.parametrize("chapter, name, value", [
    (chapter, name, value) for chapter, table in BAD.items() for name, values in table.items()
    for value in values])
def test_a_bad_value_is_named_before_anything_runs_or_is_written(chapter, name, value, tmp_path,
                                                                  capsys):
    status = runner.main(["run", str(PROJECT_ROOT / "book" / f"{chapter}.md"), "--profile",
                          "smoke", "-p", f"{name}={value}", "--output-root", str(tmp_path)])
    error = capsys.readouterr().err
    assert status == 2, error
    assert f"{name}" in error and ("must be" in error or "allowed" in error), error
    assert "executing" not in error
    assert not (tmp_path / "_build").exists()   # nothing written, not even a lock


@pytest.mark.parametrize("arguments, message", [
    (["run", "book/gaussian.md", "-p", "profile=paper"], "choose it with --profile"),
    (["build", "-p", "gaussian.profile=paper"], "choose it with --profile"),
    (["build", "-p", "gaussian.bogus=3"], "gaussian: unknown parameter 'bogus'"),
    (["build", "-p", "bogus=3"], "no chapter being run takes a parameter 'bogus'"),
    (["build", "-p", "nochapter.n_seeds=3"], "unknown chapter 'nochapter'"),
    (["build", "-p", "gaussian.n_seeds=abc"], "gaussian: n_seeds must be an integer >= 2"),
    (["build", "--profile", "huge"], "unknown profile 'huge'; allowed: smoke, book, paper"),
    (["build", "-j", "0"], "--jobs must be an integer >= 1"),
])
def test_bad_command_lines_stop_before_any_work(arguments, message, tmp_path, capsys,
                                                 monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    assert runner.main([*arguments, "--output-root", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "_build").exists()


def test_settings_check_their_overrides_inside_the_notebook_too():
    with pytest.raises(ValueError, match=r"vae: kl_weight must be a finite number > 0; got -1"):
        profiles.settings("vae", "smoke", kl_weight=-1)
    with pytest.raises(ValueError, match=r"sample_sizes must be a non-empty list"):
        profiles.settings("gaussian", "smoke", sample_sizes=[])
    with pytest.raises(ValueError, match=r"tail_levels\[0\] must be a finite number > 0 and < 1"):
        profiles.settings("gmm", "smoke", tail_levels=[1.5])
    assert profiles.settings("vae", "smoke", kl_weight=1).kl_weight == 1.0
    assert profiles.settings("gaussian", "smoke", n_seeds=None).n_seeds == 200


def _library_calls():
    from collapse.core.loop import run_generations
    from collapse.discrete.family import replicate, zipf_probabilities
    from collapse.gaussian.family import ExactGaussian, GaussianStats, NaiveGaussian, true_data
    from collapse.gmm.experiments import check_tail_levels
    from collapse.gmm.family import BatchedGMMFamily, SklearnGMMFamily
    rng = np.random.default_rng(0)
    real = true_data(ExactGaussian(), 3, 10, rng)
    metric = {"mean": lambda model, data, generation: model.mean}
    return [
        (lambda: NaiveGaussian().fit(np.array([[1.0, np.nan, 2.0]])), "data must be finite"),
        (lambda: NaiveGaussian().fit(np.array([[1.0, np.inf, 2.0]])), "data must be finite"),
        (lambda: NaiveGaussian().fit(np.array([[1e200, -1e200, 0.0]])), "data must be finite"),
        (lambda: ExactGaussian().fit(GaussianStats(3, np.array([np.nan]), np.array([1.0]))),
         "data .* must be finite"),
        (lambda: GaussianStats.from_samples(np.array([[1.0, np.nan, 2.0]])),
         "samples must be finite"),
        (lambda: GaussianStats.from_samples(np.empty((0, 5))), "number of seeds"),
        (lambda: true_data(ExactGaussian(), 3, 10, rng, sigma=-1), "sigma must be a finite"),
        (lambda: true_data(ExactGaussian(), 3, 10, rng, sigma=np.inf), "sigma must be a finite"),
        (lambda: true_data(ExactGaussian(), 3, 10, rng, mu=np.nan), "mu must be a finite"),
        (lambda: true_data(ExactGaussian(), 0, 10, rng), "n_seeds must be an integer >= 1"),
        (lambda: replicate([1.5, 2.5], 2), "counts must be non-negative integers"),
        (lambda: replicate([-1, 5], 2), "counts must be non-negative integers"),
        (lambda: replicate([[1, 2]], 2), "counts must be 1-D"),
        (lambda: zipf_probabilities(10, np.nan), "exponent must be a finite number >= 0"),
        (lambda: zipf_probabilities(10, -1), "exponent must be a finite number >= 0"),
        (lambda: check_tail_levels([1.5]), r"tail_levels must be probabilities in \(0, 1\)"),
        (lambda: check_tail_levels([0.95, np.nan]), "tail_levels must be probabilities"),
        (lambda: BatchedGMMFamily(tol=-1), "tol must be a finite number >= 0"),
        (lambda: BatchedGMMFamily(reg_covar=np.nan), "reg_covar must be a finite number"),
        (lambda: BatchedGMMFamily(max_iter=0), "max_iter must be an integer >= 1"),
        (lambda: SklearnGMMFamily(tol="x"), "tol must be a finite number >= 0"),
        (lambda: run_generations(ExactGaussian(), real, "replace", 3, rng, metric),
         "policy must be a collapse.core.policies.Policy"),
        (lambda: run_generations(ExactGaussian(), real, None, 3, 0, metric), "policy must be"),
    ]


@pytest.mark.parametrize("index", range(len(_library_calls())))
def test_library_entry_points_name_the_bad_argument(index):
    call, message = _library_calls()[index]
    with pytest.raises(ValueError, match=message):
        call()


def test_replicate_still_takes_integral_counts():
    from collapse.discrete.family import replicate
    assert replicate([10.0, 5.0], 2).tolist() == [[10, 5], [10, 5]]


# ----------------------------------------------------------------------------- the cache
def test_a_chapter_key_covers_the_code_it_imports_not_the_whole_package():
    gaussian = next(c for c in BOOK if c.name == "gaussian")
    files = {str(p.relative_to(cache.PACKAGE_DIR)) for p in cache.imported_files(gaussian.source)}
    assert {"gaussian/theory.py", "gaussian/family.py", "core/loop.py",
            "publish/records.py", "publish/profiles/gaussian.py"} <= files
    assert not any(name.startswith(("vae/", "language_model/", "gmm/")) for name in files)
    vae = next(c for c in BOOK if c.name == "vae")
    vae_files = {str(p.relative_to(cache.PACKAGE_DIR)) for p in cache.imported_files(vae.source)}
    assert "vae/model.py" in vae_files and "gaussian/theory.py" not in vae_files


def test_a_chapter_run_alone_keeps_the_results_it_reads_in_its_key():
    escaping = chapters.chapter_from_path(PROJECT_ROOT / "book" / "escaping.md")
    assert set(escaping.needs) == {"gaussian", "discrete", "gmm", "vae"}


def test_imports_are_followed_through_the_package(tmp_path):
    package = tmp_path / "pkg"
    sources = {"__init__.py": "", "a/__init__.py": "from .b import x\n",
               "a/b.py": "def x():\n    from ..c import helper\n", "c.py": "import os\n",
               "d.py": "", "dyn/__init__.py": "import importlib\nimportlib.import_module('x')\n",
               "dyn/one.py": "from .. import d\n"}
    for name, text in sources.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    (tmp_path / "user.py").write_text("import numpy\nfrom pkg.a import b\n")
    (tmp_path / "dynamic.py").write_text("import pkg.dyn\n")
    found = {str(p.relative_to(package)) for p in cache.imported_files(tmp_path / "user.py",
                                                                      package)}
    assert found == {"__init__.py", "a/__init__.py", "a/b.py", "c.py"}
    dynamic = {str(p.relative_to(package))
               for p in cache.imported_files(tmp_path / "dynamic.py", package)}
    assert dynamic == {"__init__.py", "dyn/__init__.py", "dyn/one.py", "d.py"}


def test_unreferenced_checkpoint_folders_are_pruned(mini):
    root, paths = mini
    chapter = runner.book_chapters(root)[0]
    folders = {name: paths.cache / "family" / name for name in ("kept", "interrupted", "old")}
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / "generation-000000.pkl").write_bytes(b"x" * 1000)
    (paths.cache / "chapters").mkdir(parents=True)
    cache.record_path(paths, chapter).write_text(json.dumps(
        {"key": "k", "checkpoints": [str(folders["kept"])]}))
    paths.work.mkdir(parents=True)
    (paths.work / "tiny2.checkpoints.log").write_text(f"{folders['interrupted']}\n")
    assert [folder for folder, _ in cache.prune_checkpoints(paths, dry_run=True)] == \
        [folders["old"]]
    assert folders["old"].is_dir()
    assert runner.main(["clean", "--checkpoints", "--output-root", str(paths.root)]) == 0
    assert not folders["old"].exists()
    assert folders["kept"].is_dir() and folders["interrupted"].is_dir()


# ----------------------------------------------------------------------------- one build at a time
def test_a_second_command_on_the_same_build_folder_is_refused(mini, capsys):
    root, book = mini
    paths = runner.BuildPaths(book.root, "smoke", scratch=True)   # where `collapse run` writes
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from collapse.publish.lock import BuildLock\n"
         f"with BuildLock({str(paths.lock)!r}, command='collapse build (test)'):\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
            sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        status = runner.main(["run", str(root / "book" / "tiny.md"), "--profile", "smoke",
                              "--output-root", str(paths.root)])
        error = capsys.readouterr().err
        assert status == 3
        assert f"pid {holder.pid}" in error and "collapse build (test)" in error
        with pytest.raises(BuildBusy):
            with BuildLock(paths.lock, wait=0.6):
                pass
        assert not paths.results.exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing its lock file: the next command takes it over
    with BuildLock(paths.lock) as lock:
        assert f"took over the lock of pid {holder.pid} (no longer running" in lock.note
    assert json.loads(paths.lock.read_text() or "{}") == {}


# ----------------------------------------------------------------------------- environment
def test_a_relative_data_root_means_relative_to_the_callers_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLLAPSE_DATA_DIR", "my-data")
    monkeypatch.setenv("COLLAPSE_CACHE_DIR", "my-cache")
    runner.configure_environment(PROJECT_ROOT)
    assert os.environ["COLLAPSE_DATA_DIR"] == str(tmp_path / "my-data")
    assert os.environ["COLLAPSE_CACHE_DIR"] == str(tmp_path / "my-cache")


def test_timing_fields_are_named_as_such():
    result = {"wall_seconds": 3.1, "settings": {"timing_seeds": 4}, "metrics": {"sampler_speed_ratio": 40.2, "section_seconds": {},
                                               "timings_seconds": 1, "sigma": [1.0, 0.5]},
              "claims": [{"id": "x", "measured": "KS p = 0.4"}]}
    assert records.without_timings(result) == {"settings": {"timing_seeds": 4},
                                               "metrics": {"sigma": [1.0, 0.5]},
                                               "claims": [{"id": "x", "measured": "KS p = 0.4"}]}


# ----------------------------------------------------------------------------- slow: real kernels
DATA_CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter that reads data

```{code-cell} ipython3
:tags: [parameters]
profile = "book"
```

```{code-cell} ipython3
from collapse.core.data import read_wikitext
print(len(read_wikitext("validation")))
```
"""


def _fake_data_root(root: Path, text: str) -> None:
    folder = root / "wikitext-2-raw-v1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wiki.valid.raw").write_text(text)
    from collapse.core.io import sha256_of
    (folder / "SHA256SUMS").write_text(f"{sha256_of(folder / 'wiki.valid.raw')}  "
                                       "wiki.valid.raw\n")


@pytest.mark.slow
def test_the_data_a_chapter_read_is_part_of_its_key(tmp_path, monkeypatch, capsys):
    source = tmp_path / "book" / "data_chapter.md"
    source.parent.mkdir()
    source.write_text(DATA_CHAPTER)
    out = ["--output-root", str(tmp_path / "out"), "--profile", "smoke"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLLAPSE_DATA_DIR", "data")   # relative to this folder, not book/
    _fake_data_root(tmp_path / "data", "a tiny corpus\n")
    assert runner.main(["run", str(source), *out]) == 0
    record = cache.read_record(runner.BuildPaths(tmp_path / "out", "smoke", scratch=True),
                               "data_chapter")
    assert list(record["data"]) == ["wikitext-2-raw-v1/wiki.valid.raw"]
    assert runner.main(["run", str(source), *out]) == 0
    assert "unchanged, skipped" in capsys.readouterr().err
    _fake_data_root(tmp_path / "data", "another tiny corpus\n")       # the data changed
    assert runner.main(["run", str(source), *out]) == 0
    assert "data file" in capsys.readouterr().err
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path / "nowhere"))  # the data are gone
    assert runner.main(["run", str(source), *out]) == 1
    error = capsys.readouterr().err
    assert "is missing" in error and "DataError" in error and "skipped" not in error


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs. A killed process whose parent has exited waits, as a
    zombie, until the machine's init reaps it (here within a second or so): it runs nothing."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


@pytest.mark.slow
@pytest.mark.parametrize("stubborn", [False, True], ids=["kernel-interrupted", "kernel-killed"])
def test_ctrl_c_stops_the_chapter_and_the_next_build_resumes(tmp_path, stubborn):
    markers = tmp_path / "markers"
    markers.mkdir()
    command = [sys.executable, "-m", "collapse.publish.runner", "run",
               str(FIXTURES / "slow_chapter.md"), "--profile", "smoke",
               "-p", f"marker_dir={markers}", "--output-root", str(tmp_path / "out")]
    if stubborn:   # the kernel ignores SIGINT: after runner.INTERRUPT_GRACE it is killed
        command += ["-p", "ignore_interrupts=true"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # its own process group, as a terminal's foreground job: the signal goes to the group
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE,
                               text=True, env=environment)
    deadline = time.monotonic() + 180
    while not (markers / "started-0").exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the chapter never started"
        time.sleep(0.2)
    time.sleep(1.5)                           # a few checkpoints are written
    os.killpg(process.pid, signal.SIGINT)
    sent = time.monotonic()
    status = process.wait(timeout=60)
    stopped_in = time.monotonic() - sent
    error = process.stderr.read()
    assert status == 130, error
    assert stopped_in < 15, stopped_in
    after = error[error.index("executing"):].splitlines()[1:]
    said = [line for line in after if line.strip() and not line.startswith("[")]  # progress
    assert len(said) == 1 and said[0].startswith("interrupted: stopped slow_chapter"), error
    assert "checkpoints are kept" in said[0] and "Traceback" not in error
    pids = [int(pid) for pid in (markers / "pids").read_text().split()]  # kernel, worker
    deadline = time.monotonic() + 5
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, pids)), [(pid, _running(pid)) for pid in pids]
    assert not (markers / "finished").exists()
    if stubborn:
        return
    # the next build resumes from the checkpoints and finishes
    assert subprocess.run(command, env=environment, capture_output=True).returncode == 0
    resumed = int((markers / "finished").read_text())
    assert resumed > 0 and (markers / f"started-{resumed}").exists()


@pytest.mark.slow
def test_two_runs_give_identical_results_apart_from_timing_fields(smoke_book, tmp_path):
    again = runner.BuildPaths(tmp_path, "smoke", scratch=True)   # `collapse run` writes here
    names = ["gaussian", "discrete"]
    assert runner.main(["run", *(str(PROJECT_ROOT / "book" / f"{n}.md") for n in names),
                        "--profile", "smoke", "--output-root", str(tmp_path)]) == 0
    for name in names:
        first = json.loads((smoke_book.results / f"{name}.json").read_text())
        second = json.loads((again.results / f"{name}.json").read_text())
        assert records.without_timings(first) == records.without_timings(second), name
        assert [c["measured"] for c in first["claims"]] == \
            [c["measured"] for c in second["claims"]]
