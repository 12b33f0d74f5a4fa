"""The language-model chapter: data checks, perplexity, generation, the loop, resume.

Everything runs on a tiny OPT (a few thousand parameters) and a tiny synthetic WikiText-like
corpus written to a temporary COLLAPSE_DATA_DIR with its own SHA256SUMS, so no test touches the
shared data, the network, or the user's _build.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats

from collapse import language_model
from collapse.core import data
from collapse.core.family import GenerationContext
from collapse.language_model import data as lm_data
from collapse.language_model import experiments
from collapse.language_model import model as lm_model
from collapse.language_model.family import LMCheckpointer, load_base
from collapse.language_model.runs import QUANTILES, LMRun
from collapse.publish import profiles
from collapse.publish.records import ChapterRecord

WORDS = ("the of and in to a was is for on as by with his at from that it an were which "
         "album song river city band game church war film team ship station road army king "
         "lobster island season league tower mason court ocean design species bridge").split()


def synthetic_text(rng: np.random.Generator, n_articles: int, sentences: int) -> str:
    """WikiText-like raw text: headings and sentences of Zipf-distributed words."""
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    weights /= weights.sum()
    lines = []
    for article in range(n_articles):
        lines += ["", f" = {WORDS[rng.integers(len(WORDS))].title()} {article} = ", ""]
        for _ in range(sentences):
            words = rng.choice(WORDS, size=rng.integers(6, 14), p=weights)
            lines.append(" " + " ".join(words) + " , " + str(rng.integers(1900, 2000)) + " . ")
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One thread, as in the chapter's joblib workers (two threads thrash a loaded machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """A temporary data root with tiny train/validation/test splits and their SHA256SUMS;
    results and caches go to the temporary folder too."""
    folder = tmp_path / "data" / data.WIKITEXT
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sums = []
    for split, name in data.WIKITEXT_SPLITS.items():
        text = synthetic_text(rng, n_articles=12 if split == "validation" else 4, sentences=12)
        (folder / name).write_text(text, encoding="utf-8")
        sums.append(f"{hashlib.sha256(text.encode()).hexdigest()}  {name}")
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    monkeypatch.setenv("COLLAPSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLLAPSE_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("COLLAPSE_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def tiny_settings(**overrides):
    """The smoke profile shrunk further: a 2-layer OPT with 16-dim states on the tiny corpus."""
    values = dict(vocab_size=300, n_seeds=1, n_generations=2, n_finetune_blocks=10,
                  n_selection_blocks=4, n_test_blocks=6, n_pretrain_blocks=40,
                  max_text_chars=None, batch_size=4, pretrain_batch_size=8,
                  model={"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                         "ffn_dim": 32},
                  ablation={"n_finetune_blocks": 5, "n_generations": 1, "epochs": 1,
                            "variants": {"sampling T=1": {"do_sample": True,
                                                          "repetition_penalty": 1.0}}},
                  generation_batch_size=8)
    values.update(overrides)
    return profiles.settings("language_model", "smoke", **values)


@pytest.fixture
def tiny_model():
    tokenizer = lm_data.train_bpe_tokenizer(synthetic_text(np.random.default_rng(1), 4, 20), 280)
    model = lm_model.build_opt(tokenizer, hidden_size=16, num_hidden_layers=1,
                               num_attention_heads=2, ffn_dim=32, seed=3)
    return model.eval(), tokenizer


# --------------------------------------------------------------------------- data
def test_checksum_mismatch_gives_a_clear_error(tiny_data):
    data.read_wikitext("validation")  # intact: verifies
    path = tiny_data / data.WIKITEXT_SPLITS["validation"]
    path.write_text(path.read_text() + "tampered\n")  # a corrupted copy
    with pytest.raises(data.DataError, match="sha256"):
        data.read_wikitext("validation")
    with pytest.raises(data.DataError, match="sha256"):
        experiments.prepare_base(tiny_settings())


def test_missing_split_says_what_is_missing(tiny_data):
    (tiny_data / data.WIKITEXT_SPLITS["test"]).unlink()
    with pytest.raises(data.DataError, match="wiki.test.raw is missing"):
        experiments.prepare_base(tiny_settings())


def test_blocks_are_consecutive_64_token_pieces(tiny_data):
    tokenizer = lm_data.train_bpe_tokenizer(data.read_wikitext("validation"), 300)
    ids = lm_data.encode_stream(tokenizer, data.read_wikitext("test"))
    blocks = lm_data.cut_blocks(ids, 64)
    assert blocks.shape == (len(ids) // 64, 64)
    np.testing.assert_array_equal(blocks.ravel(), ids[:blocks.size])
    # the byte-level BPE round-trips the text of the blocks
    assert tokenizer.decode(ids.tolist()) == data.read_wikitext("test")


def test_detokenized_pretraining_text_drops_wikitext_markup():
    raw = (" = = Early life = = \n Smith @-@ Jones ( born 1 @,@ 200 ) was 5 @.@ 5 m tall , "
           "wasn 't he ? \n")
    assert lm_data.detokenize_wikitext(raw) == \
        "Early life\nSmith-Jones (born 1,200) was 5.5 m tall, wasn't he?\n"


def test_text_statistics_on_known_inputs():
    blocks = np.array([[1, 2, 3, 1, 2, 3], [4, 4, 4, 4, 4, 4]])
    # bigrams: (1,2),(2,3),(3,1),(1,2),(2,3) | (4,4) x5 -> 4 distinct of 10
    assert lm_data.distinct_n(blocks, 2) == pytest.approx(4 / 10)
    # 4-grams per row: 3 with 3 distinct -> 0 repeated; 3 identical -> 2/3 repeated
    assert lm_data.sequence_repetition(blocks, 4) == pytest.approx((0 + 2 / 3) / 2)
    original = {"rare": 1, "twice": 2, "often": 70}
    share = lm_data.word_type_share(original, {"often": 3, "new": 1}, edges=(1, 2, 64))
    np.testing.assert_array_equal(share, [0.0, 0.0, 1.0])


# --------------------------------------------------------------------------- perplexity
def test_perplexity_equals_exp_of_manual_cross_entropy(tiny_model):
    model, tokenizer = tiny_model
    blocks = np.random.default_rng(0).integers(2, len(tokenizer), size=(5, 12))
    with torch.no_grad():
        logits = model(input_ids=torch.as_tensor(blocks)).logits.double()
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
    targets = torch.as_tensor(blocks[:, 1:])
    nll = -log_probs.gather(-1, targets[..., None])[..., 0].numpy()  # (5, 11)
    assert lm_model.perplexity(model, blocks, batch_size=2) == pytest.approx(
        math.exp(nll.mean()), rel=1e-5)
    np.testing.assert_allclose(lm_model.sequence_perplexities(model, blocks, batch_size=3),
                               np.exp(nll.mean(axis=1)), rtol=1e-5)
    with torch.no_grad():  # transformers' own shifted loss agrees
        loss = model(input_ids=torch.as_tensor(blocks), labels=torch.as_tensor(blocks)).loss
    assert math.log(lm_model.perplexity(model, blocks)) == pytest.approx(float(loss), rel=1e-5)


# --------------------------------------------------------------------------- generation
@pytest.mark.parametrize("decoding", [lm_model.Decoding(),  # 5-beam, penalty 3.0, 64 tokens
                                      lm_model.Decoding(do_sample=True, repetition_penalty=1.0)])
def test_generation_writes_exactly_64_new_tokens_per_block(tiny_model, decoding):
    model, tokenizer = tiny_model
    with torch.no_grad():  # make end-of-sequence by far the most likely token everywhere:
        norm = model.model.decoder.final_layer_norm  # constant final hidden state (ones) ...
        norm.weight.zero_()
        norm.bias.fill_(1.0)
        model.get_output_embeddings().weight[tokenizer.eos_token_id] = 10.0  # ... aligned with EOS
        logits = model(input_ids=torch.tensor([[5, 6, 7]])).logits[0, -1]
    assert int(logits.argmax()) == tokenizer.eos_token_id
    prompts = np.random.default_rng(0).integers(2, len(tokenizer), size=(7, 64))
    new, rate = lm_model.generate_continuations(model, prompts, decoding,
                                                np.random.default_rng(0), batch_size=3)
    assert new.shape == (7, 64) and rate > 0
    assert not np.any(new == tokenizer.eos_token_id)  # EOS suppressed until 64 tokens exist


def test_beam_search_is_deterministic_and_sampling_follows_the_seed(tiny_model):
    model, tokenizer = tiny_model
    prompts = np.random.default_rng(1).integers(2, len(tokenizer), size=(2, 64))
    beam = lm_model.Decoding(new_tokens=8)
    first = lm_model.generate_continuations(model, prompts, beam, np.random.default_rng(0))[0]
    again = lm_model.generate_continuations(model, prompts, beam, np.random.default_rng(9))[0]
    np.testing.assert_array_equal(first, again)
    sample = lm_model.Decoding(new_tokens=8, do_sample=True, repetition_penalty=1.0)
    a = lm_model.generate_continuations(model, prompts, sample, np.random.default_rng(5))[0]
    b = lm_model.generate_continuations(model, prompts, sample, np.random.default_rng(5))[0]
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_value_errors_naming_the_parameter(tiny_data):
    with pytest.raises(ValueError, match="new_tokens"):
        lm_model.Decoding(new_tokens=0)
    with pytest.raises(ValueError, match="repetition_penalty"):
        lm_model.Decoding(repetition_penalty=0)
    with pytest.raises(ValueError, match="epochs"):
        lm_model.TrainingSettings(epochs=0, lr=1e-3, eta_min=0, batch_size=4)
    with pytest.raises(ValueError, match="block_size"):
        lm_data.cut_blocks(np.arange(10), 1)
    with pytest.raises(ValueError, match="unknown profile"):
        profiles.settings("language_model", "huge")
    settings = tiny_settings()
    base = experiments.prepare_base(settings)
    with pytest.raises(ValueError, match="prompt_source"):
        experiments.make_jobs({**settings, "prompt_source": "elsewhere"}, base)
    with pytest.raises(ValueError, match="fraction"):
        experiments.make_jobs({**settings, "settings": {"x": {"epochs": 1,
                                                                  "real_fraction": 1.5}}}, base)
    with pytest.raises(ValueError, match="n_seeds"):
        experiments.make_jobs({**settings, "n_seeds": 0}, base)


# --------------------------------------------------------------------------- the loop
@pytest.mark.slow
def test_two_generation_loop_with_both_settings_through_joblib(tiny_data):
    settings = tiny_settings(n_jobs=2, backend="loky")
    run = experiments.run_experiment(settings)
    assert sorted(run.setting_names) == ["keep_10pct", "no_real"]
    base_dir = run.base.directory
    tokenizer, corpus = load_base(base_dir)[:2]
    real = corpus.finetune[:settings["n_finetune_blocks"]]
    for name in run.setting_names:
        (result,) = run.jobs("main", name)
        metrics = result["metrics"]
        assert metrics["test_perplexity"].shape == (3,)
        assert np.all(np.isfinite(metrics["test_perplexity"]))
        assert np.all(result["sizes"] == len(real))  # same dataset size every generation
        assert metrics["sequence_perplexity"].shape == (3, len(real))
        assert metrics["example"].shape == (3, 64)
        np.testing.assert_array_equal(metrics["word_type_share"][0][
            ~np.isnan(metrics["word_type_share"][0])], 1.0)  # generation 0 trains on real text
        # generation 0's histogram = real blocks scored by the generation-0 model itself
        saved = LMCheckpointer(result["directory"]).load(0)
        np.testing.assert_array_equal(saved["data"], real)
        assert np.all(np.diff(metrics["sequence_perplexity_quantiles"][0]) >= 0)
        kept = LMCheckpointer(result["directory"]).load(2)["data"]
        real_rows = {row.tobytes() for row in real}
        n_real = sum(row.tobytes() in real_rows for row in kept)
        assert n_real == (1 if name == "keep_10pct" else 0)  # round(0.1 * 10) original blocks
    (ablation,) = run.jobs("ablation")
    assert ablation["metrics"]["test_perplexity"].shape == (2,)
    assert "sequence_perplexity" not in ablation["metrics"]
    assert run.pooled_quantiles("no_real").shape == (3, len(QUANTILES))


@pytest.mark.parametrize("prompt_source", ["original", "current"])
def test_prompts_are_the_original_blocks_or_the_current_data(tiny_data, monkeypatch,
                                                             prompt_source):
    settings = tiny_settings(prompt_source=prompt_source)
    job = _job(settings)
    family = experiments.family_for(job)
    seen = []

    def fake_generate(model, prompts, decoding, rng, batch_size):
        seen.append(np.array(prompts))
        return np.zeros((len(prompts), decoding.new_tokens), dtype=np.int32), 1.0

    monkeypatch.setattr(lm_model, "generate_continuations", fake_generate)
    monkeypatch.setattr(family, "load", lambda model: None)  # no weights needed here
    real, previous = np.arange(40).reshape(10, 4), 100 + np.arange(40).reshape(10, 4)
    context = GenerationContext(generation=1, real=real, previous=previous)
    out = family.generate(None, 10, np.random.default_rng(0), context)
    assert out.shape == (10, 64)
    np.testing.assert_array_equal(seen[0], real if prompt_source == "original" else previous)
    family.generate(None, 4, np.random.default_rng(0), context)  # mix_real asks for fewer
    source = real if prompt_source == "original" else previous
    assert len(seen[1]) == 4 and all(any((row == r).all() for r in source) for row in seen[1])


def _job(settings, setting="no_real"):
    base = experiments.prepare_base(settings)
    return [job for job in experiments.make_jobs(settings, base)
            if job.setting == setting][0]


def test_resume_after_interruption_equals_an_uninterrupted_run(tiny_data, tmp_path):
    settings = tiny_settings()
    job = _job(settings)
    with pytest.raises(KeyboardInterrupt):
        experiments.run_job(job, interrupt_after=1)
    # the generation-0 scorer travels in the checkpoint's fold: generation 0's file is not needed
    (job.checkpoint_directory / "generation-000000.pkl").unlink()
    resumed = experiments.run_job(job)
    assert resumed["resumed_from"] == 1
    fresh = experiments.run_job(
        dataclasses.replace(job, cache_directory=str(tmp_path / "elsewhere")))
    assert fresh["resumed_from"] is None
    for name in ("test_perplexity", "sequence_perplexity", "example", "distinct_n"):
        np.testing.assert_allclose(resumed["metrics"][name], fresh["metrics"][name], rtol=1e-5)
    # a finished run is reused, not recomputed; both sessions' compute is on record
    reused = experiments.run_job(job)
    assert reused["resumed_from"] == settings["n_generations"]
    assert reused["timing"]["generations"] == settings["n_generations"] + 1
    assert reused["timing"]["cpu_seconds"] > 0


def test_corrupt_checkpoint_is_detected_and_recomputed(tiny_data):
    settings = tiny_settings()
    job = _job(settings)
    first = experiments.run_job(job)
    last = job.checkpoint_directory / "generation-000002.pkl"
    payload = bytearray(last.read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # flip bits in the middle of the pickle
    last.write_bytes(bytes(payload))
    again = experiments.run_job(job)
    assert again["resumed_from"] == 1  # the damaged generation 2 was not trusted
    np.testing.assert_allclose(again["metrics"]["test_perplexity"],
                               first["metrics"]["test_perplexity"], rtol=1e-5)
    assert pickle.loads(last.read_bytes())["sizes"][-1] == settings["n_finetune_blocks"]


def test_paper_profile_code_path_with_a_tiny_pretrained_stand_in(tiny_data, monkeypatch):
    """`paper` loads facebook/opt-125m and its tokenizer (impossible here): the same code path
    runs with a tiny OPT and a locally built tokenizer in place of the hub download."""
    tokenizer = lm_data.train_bpe_tokenizer(data.read_wikitext("train"), 300)
    calls = []

    def fake_backbone(name):
        calls.append(name)
        return lm_model.build_opt(tokenizer, 16, 1, 2, 32, seed=0), tokenizer

    monkeypatch.setattr(lm_model, "pretrained_backbone", fake_backbone)
    settings = profiles.settings(
        "language_model", "paper", n_seeds=1, n_generations=1, n_finetune_blocks=8,
        n_selection_blocks=4, n_test_blocks=4, batch_size=4, threads_per_job=1,
        settings={"no_real": {"epochs": 1, "real_fraction": 0.0}},
        ablation={"n_finetune_blocks": 4, "n_generations": 1, "epochs": 1, "variants": {}})
    run = experiments.run_experiment(settings)
    assert calls == ["facebook/opt-125m"]
    assert run.base.info["blocks"]["pretrain"] == 0 and "pretrain_tokens" not in run.base.info
    assert run.metric("test_perplexity", "no_real").shape == (1, 2)
    paper = profiles.PROFILES["language_model"]["paper"]  # the released script's values
    assert (paper["lr"], paper["eta_min"], paper["batch_size"], paper["n_seeds"]) == \
        (2e-5, 1e-6, 128, 5)


# --------------------------------------------------------------------------- claims
def synthetic_runs(effect: bool, n_seeds: int = 3, n_generations: int = 4,
                   n_blocks: int = 400) -> LMRun:
    """An LMRun built from made-up metrics (no model, no data): with ``effect`` every claim's
    effect is present (gradual degradation without real data, little with 10% kept, data
    shifting to low perplexity with a long tail, rare words lost, ablations as the paper);
    without it, the negative control of each claim (damage all at once and small, kept real
    data no help, data less probable and narrower, no word lost first, penalty helping,
    accumulating worse)."""
    generations = np.arange(n_generations + 1)
    z = stats.norm.ppf((np.arange(n_blocks) + 0.5) / n_blocks)  # exact normal quantiles
    if effect:
        final = {"no_real": 1.7, "keep_10pct": 1.1}
        curve = {name: 1 + (value - 1) * generations / n_generations
                 for name, value in final.items()}  # gradual climb to ``final``
        medians, sigmas = 100 * 0.95 ** generations, 0.4 + 0.1 * generations
        rare, zero_shot = 0.2, 100.0
        ablations = {"penalty 1.0": 1.5, "penalty 2.0": 1.9, "penalty 3.0": 1.8,
                     "sampling T=1": 1.3, "accumulate": 1.1}
    else:
        curve = {name: np.where(generations > 0, 1.05, 1.0)  # at once, and small
                 for name in ("no_real", "keep_10pct")}
        medians, sigmas = 100 * 1.05 ** generations, 0.4 / (1 + generations)
        rare, zero_shot = 1.0, 34.0
        ablations = {"penalty 1.0": 1.3, "penalty 2.0": 1.0, "penalty 3.0": 1.0,
                     "sampling T=1": 1.2, "accumulate": 1.5}
    shares = np.ones((n_generations + 1, len(lm_data.FREQUENCY_BUCKETS)))
    shares[1:, 0] = rare
    shares[:, -1] = np.nan  # no type seen ≥ 64 times: the highest bucket present is used
    sequences = medians[:, None] * np.exp(sigmas[:, None] * z[None, :])

    def job(kind, setting, seed_index=0):
        return SimpleNamespace(kind=kind, setting=setting, seed_index=seed_index,
                               n_generations=n_generations)

    results = [{"job": job("main", name, seed),
                "metrics": {"test_perplexity": 34.0 * curve[name] * (1 + 0.01 * seed),
                            "sequence_perplexity": sequences, "word_type_share": shares}}
               for name in curve for seed in range(n_seeds)]
    results += [{"job": job("ablation", name),
                 "metrics": {"test_perplexity": 34.0 * np.array([1.0, ratio])}}
                for name, ratio in ablations.items()]
    settings = profiles.settings("language_model", "smoke", n_seeds=n_seeds,
                                 n_generations=n_generations)
    base = experiments.BaseInfo("", "", {"zero_shot_test_perplexity": zero_shot})
    return LMRun(settings=settings, base=base, results=results, seconds=0.0,
                 main_peak_rss_mb=0.0)


@pytest.mark.parametrize("effect", [True, False])
def test_every_claim_gets_a_verdict_and_each_can_fail(effect):
    """language_model.claims on synthetic runs: the effect run reproduces every claim, the
    negative control reproduces none (each criterion can fail)."""
    runs = synthetic_runs(effect)
    record = ChapterRecord("language_model", runs.settings)
    language_model.declare_claims(record, runs.settings)
    verdicts = language_model.evaluate_claims(record, runs)
    assert set(verdicts) == set(record.claims) and len(verdicts) == 9
    assert all(claim.measured for claim in record.claims.values())
    expected = "reproduced" if effect else "not reproduced"
    assert verdicts == {claim: expected for claim in verdicts}


def test_claim_criteria_grade_partial_results():
    """Between the effect and its absence: the criteria's 'partially' branches."""
    runs = synthetic_runs(True)
    for result in runs.jobs("main", "no_real"):  # degrades, but by 1.15 and mostly at once
        result["metrics"]["test_perplexity"] = 34.0 * np.array([1.0, 1.14, 1.15, 1.15, 1.15])
    record = ChapterRecord("language_model", runs.settings)
    language_model.declare_claims(record, runs.settings)
    verdicts = language_model.evaluate_claims(record, runs)
    assert verdicts["degrades-without-real-data"] == "partially reproduced"
    assert verdicts["degradation-is-gradual"] == "not reproduced"
    assert verdicts["real-data-limits-damage"] == "partially reproduced"  # 1.1 < 1.15 only
