"""Figures, tables and text of the language-model chapter (book style from
:mod:`collapse.publish.plotting`).

Each ``figure_*`` function draws one figure from a
:class:`~collapse.language_model.runs.LMRun` and returns the matplotlib figure; the
``*_text`` and ``*_table`` functions return the chapter's Markdown/HTML built from the same
run; the chapter only calls them. Paper references: Figure 1a (test perplexity
per generation, mean ± sd over 5 seeds: 34 for "Real", +20–28 points by generation 9 without
original data, "minor" degradation with 10% kept) and Figure 1b/c (histograms of the
per-sequence perplexity of each generation's training data scored by the generation-0 model).
"""
from __future__ import annotations

import html
import os

import numpy as np

from ..publish import plotting
from . import data as lm_data
from .runs import QUANTILES, LMRun

SETTING_LABELS = {"no_real": "(a) 5 epochs, no original data",
                  "keep_10pct": "(b) 10 epochs, 10% original data kept"}
#: the paper's generation-9 / Real test-perplexity ratio without original data: 34 → +20–28
PAPER_RATIO_NO_REAL = (54 / 34, 62 / 34)


def setting_label(name: str) -> str:
    return SETTING_LABELS.get(name, name)


def _generation_ticks(ax, generations):
    ax.set_xticks(generations)
    ax.set_xticklabels(["Real" if g == 0 else str(g) for g in generations])
    ax.set_xlabel("generation (model fine-tuned on data of the previous one)")


def mean_sd(ax, x, values, label, color, **kwargs):
    """Mean over seeds (axis 0) with a ±1 sd band (no band for a single seed)."""
    mean = values.mean(axis=0)
    line, = ax.plot(x, mean, marker="o", markersize=3.5, label=label, color=color, **kwargs)
    if len(values) > 1:
        sd = values.std(axis=0, ddof=1)
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2, linewidth=0)
    return line


def figure_test_perplexity(runs: LMRun):
    """Figure 1a re-derived: test perplexity per generation (left) and its ratio to
    generation 0 (right), mean ± sd over seeds, for both settings."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.8)
    x = runs.generations
    for index, name in enumerate(runs.setting_names):
        values = runs.metric("test_perplexity", name)
        mean_sd(axes[0, 0], x, values, setting_label(name), plotting.color(index))
        mean_sd(axes[0, 1], x, runs.perplexity_ratio(name), setting_label(name),
                plotting.color(index))
    axes[0, 0].axhline(runs.base.info["zero_shot_test_perplexity"],
                       **{**plotting.PAPER_STYLE, "color": "#999999"},
                       label="base model before fine-tuning")
    axes[0, 0].set_ylabel("test perplexity")
    axes[0, 1].set_ylabel("test perplexity / generation 0")
    low, high = PAPER_RATIO_NO_REAL
    last = x[-1]
    axes[0, 1].fill_between([last - 0.35, last + 0.35], low, high, color="#777777", alpha=0.35,
                            linewidth=0, label="paper (a), generation 9: 1.6–1.8")
    axes[0, 1].axhline(1.0, color="#444444", linewidth=0.8)
    for ax in axes[0]:
        _generation_ticks(ax, x)
        ax.legend()
    axes[0, 0].set_title(f"mean ± sd over {runs.settings['n_seeds']} seeds")
    axes[0, 1].set_title("relative to the model fine-tuned on real data")
    return fig


def figure_histograms(runs: LMRun, bins: int = 40):
    """Figure 1b/c re-derived: density of log per-sequence perplexity (scored by generation 0)
    of the training data of selected generations, pooled over seeds; one panel per setting."""
    names = runs.setting_names
    fig, axes = plotting.subplots(1, len(names), width=10.5, height=3.6, sharey=True)
    generations = runs.histogram_generations()
    pooled = {name: runs.metric("sequence_perplexity", name) for name in names}
    everything = np.concatenate([values.ravel() for values in pooled.values()])
    edges = np.logspace(np.log10(everything.min()) - 0.02, np.log10(everything.max()) + 0.02,
                        bins + 1)  # equal widths on the log axis: bar height ∝ density of log ppl
    cmap = plotting.plt.get_cmap("plasma")
    for ax, name in zip(axes[0], names):
        for rank, generation in enumerate(generations):
            values = pooled[name][:, generation].ravel()
            colour = "#000000" if generation == 0 else \
                cmap(0.85 * (rank - 1) / max(len(generations) - 2, 1))
            ax.hist(values, bins=edges, weights=np.full(len(values), 1 / len(values)),
                    histtype="step", color=colour, linewidth=2.2 if generation == 0 else 1.3,
                    label="real data (gen. 0)" if generation == 0 else f"generation {generation}")
        ax.set_xscale("log")
        ax.set_xlabel("perplexity of a training sequence under the generation-0 model")
        ax.set_title(setting_label(name))
    axes[0, 0].set_ylabel(f"share of sequences per bin ({bins} log-spaced bins)")
    axes[0, -1].legend()
    return fig


def figure_quantiles(runs: LMRun):
    """The histograms' quantiles (5%, median, 95%, 99%) for every generation, both settings:
    the shift towards 'probable' text and the length of the high-perplexity tail."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.6, sharey=True)
    x = runs.generations
    styles = ("--", "-", "-.", ":")
    for ax, name in zip(axes[0], runs.setting_names):
        quantiles = runs.pooled_quantiles(name)
        for column, (q, style) in enumerate(zip(QUANTILES, styles)):
            ax.plot(x, quantiles[:, column], style, marker="o", markersize=3,
                    color=plotting.color(column), label=f"{q:.0%} quantile")
        ax.set_yscale("log")
        ax.set_title(setting_label(name))
        _generation_ticks(ax, x)
    axes[0, 0].set_ylabel("per-sequence perplexity (generation-0 scorer)")
    axes[0, 0].legend()
    return fig


def figure_diversity(runs: LMRun):
    """Distinct-4 (corpus) and seq-rep-4 (inside sequences) of each generation's training
    data, mean ± sd over seeds: is the text getting repetitive?"""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.4)
    x = runs.generations
    for index, name in enumerate(runs.setting_names):
        mean_sd(axes[0, 0], x, runs.metric("distinct_n", name)[:, :, 3], setting_label(name),
                plotting.color(index))
        mean_sd(axes[0, 1], x, runs.metric("sequence_repetition_4", name), setting_label(name),
                plotting.color(index))
    axes[0, 0].set_ylabel("distinct-4 (share of unique 4-grams)")
    axes[0, 1].set_ylabel("seq-rep-4 (repeated 4-grams in a sequence)")
    for ax in axes[0]:
        _generation_ticks(ax, x)
    axes[0, 0].legend()
    return fig


def figure_word_types(runs: LMRun):
    """Share of the original text's word types that each generation's training data still
    contains, by how often the type occurs in the original text (mean over seeds)."""
    names = runs.setting_names
    fig, axes = plotting.subplots(1, len(names), width=10.5, height=4.2, sharey=True)
    x = runs.generations
    labels = lm_data.bucket_labels()
    for ax, name in zip(axes[0], names):
        shares = runs.metric("word_type_share", name)  # (seeds, generations, buckets)
        for bucket, label in enumerate(labels):
            if np.all(np.isnan(shares[:, :, bucket])):  # no original type this frequent
                continue
            ax.plot(x, np.nanmean(shares[:, :, bucket], axis=0), marker="o", markersize=3,
                    color=plotting.color(bucket), label=label)
        ax.set_title(setting_label(name))
        _generation_ticks(ax, x)
        ax.set_ylim(0, 1.03)
    axes[0, 0].set_ylabel("share of original word types still produced")
    handles, labels_shown = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels_shown, title="count of the word type in the original text",
               loc="outside lower center", ncol=len(labels_shown))
    return fig


def figure_ablations(runs: LMRun):
    """Ablations (one seed, smaller scale): test perplexity / generation 0 (left) and
    seq-rep-4 of the training data (right) for each decoding or data-policy variant."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=4.3)
    for index, name in enumerate(runs.ablation_names):
        result = runs.jobs("ablation", name)[0]
        values = result["metrics"]["test_perplexity"]
        x = np.arange(len(values))
        label = f"{name} ({result['job'].policy}, {result['job'].decoding.label()})"
        axes[0, 0].plot(x, values / values[0], marker="o", markersize=3,
                        color=plotting.color(index), label=label)
        axes[0, 1].plot(x, result["metrics"]["sequence_repetition_4"], marker="o",
                        markersize=3, color=plotting.color(index), label=name)
        for ax in axes[0]:
            _generation_ticks(ax, x)
    axes[0, 0].axhline(1.0, color="#444444", linewidth=0.8)
    axes[0, 0].set_ylabel("test perplexity / generation 0")
    axes[0, 1].set_ylabel("seq-rep-4 of the training data")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2)
    return fig


def model_description(settings) -> str:
    """What the profile's model is, with its parameter count (built, not trained)."""
    if settings["backbone"] != "scratch":
        return f"`{settings['backbone']}`, pretrained, with its own tokenizer"
    from transformers import OPTConfig, OPTForCausalLM

    shape = settings["model"]
    config = OPTConfig(vocab_size=settings["vocab_size"], word_embed_proj_dim=shape["hidden_size"],
                       max_position_embeddings=2 * settings["block_size"], **shape)
    count = sum(p.numel() for p in OPTForCausalLM(config).parameters())
    return (f"OPT architecture, {shape['num_hidden_layers']} layers, width "
            f"{shape['hidden_size']} ({count / 1e6:.2f}M parameters), pretrained here from scratch "
            f"({settings['pretrain_epochs']} epochs) on the validation blocks not used below"
            + (", turned back into plain text (WikiText markup removed)"
               if settings["pretrain_text"] == "detokenized" else "")
            + f"; byte-level BPE tokenizer with {settings['vocab_size']:,} entries trained on "
            f"the validation split")


def setup_table(settings) -> str:
    """Markdown table: the released script's setup beside this run's profile values."""
    mine_data = ("the WikiText-2 train split" if settings["train_split"] == "train" else
                 f"a random {settings['n_finetune_blocks']} of the validation split's "
                 f"{settings['block_size']}-token blocks (the train split is not on these "
                 f"machines)")
    selection = ("the validation split" if settings["n_selection_blocks"] is None else
                 f"{settings['n_selection_blocks']} real held-out validation blocks")
    test = ("the test split" if settings["n_test_blocks"] is None else
            f"a random {settings['n_test_blocks']} blocks of the test split")
    epochs = "; ".join(f"{name}: {value['epochs']} epochs, {value['real_fraction']:.0%} original"
                       for name, value in settings["settings"].items())
    rows = [
        ("model", "OPT-125m, pretrained; its GPT-2 BPE tokenizer", model_description(settings)),
        ("fine-tuning data", "WikiText-2 train split, 64-token blocks", mine_data),
        ("best epoch by", "validation loss", f"perplexity on {selection}"),
        ("test perplexity on", "the WikiText-2 test split", test),
        ("optimiser", "AdamW lr 2e-5, cosine per epoch to 1e-6, batch 128",
         f"AdamW lr {settings['lr']:g}, cosine per epoch to {settings['eta_min']:g}, batch "
         f"{settings['batch_size']}"),
        ("generation", "each training block continued by exactly 64 new tokens, 5-beam search, "
         "repetition penalty 3.0",
         f"the same: {settings['num_beams']}-beam, exactly {settings['block_size']} new tokens, "
         f"penalty {settings['repetition_penalty']:g}, prompts = {settings['prompt_source']} data"),
        ("settings", "(a) 5 epochs, no original data; (b) 10 epochs, 10% original", epochs),
        ("seeds × generations", "5 × (Real + 9)",
         f"{settings['n_seeds']} × (Real + {settings['n_generations']})"),
    ]
    lines = [f"| | the paper (released script) | this run (`{settings['profile']}` profile) |",
             "|---|---|---|"]
    lines += [f"| {name} | {paper} | {mine} |" for name, paper, mine in rows]
    return "\n".join(lines)


def run_summary_text(runs: LMRun) -> str:
    """Markdown: the base model, wall time and load, throughput, memory and (for checkpoints
    reused from an earlier session) what computing them cost."""
    speed = runs.throughput()
    info = runs.base.info
    text = (
        f"Base model: **{info['parameters']:,}** parameters, zero-shot test perplexity "
        f"**{info['zero_shot_test_perplexity']:.1f}**; blocks used: {info['blocks']}. Wall time "
        f"of the experiment in this session **{runs.seconds / 60:.1f} min** "
        f"({runs.job_seconds() / 60:.1f} min summed over {len(runs.results)} single-thread jobs, "
        f"{runs.reused_jobs()} of them reused complete from their checkpoints; 5-minute load "
        f"average of the machine at the end: {os.getloadavg()[1]:.1f} on {os.cpu_count()} "
        f"cores). Throughput (median over generations, one thread per job): training "
        f"**{speed['train_tokens_per_second']:,.0f}** tokens/s, "
        f"{runs.settings['num_beams']}-beam generation "
        f"**{speed['generate_tokens_per_second']:,.0f}** new tokens/s; pretraining the base ran "
        f"at {speed['pretrain_tokens_per_second']:,.0f} tokens/s. Peak memory ≤ "
        f"**{runs.peak_memory_mb() / 1024:.2f} GB** (main process + parallel workers).")
    cost = runs.compute_cost()
    if cost is not None and runs.reused_jobs():
        text += (f" Computing the reused checkpoints took {cost['job_seconds'] / 60:.1f} min of "
                 f"job wall time ({cost['job_cpu_seconds'] / 60:.1f} min CPU) plus "
                 f"{cost['base_seconds'] / 60:.1f} min for the base model.")
    return text


def example_table(runs: LMRun, setting: str = "no_real", seed_index: int = 0,
                  max_chars: int = 260) -> str:
    """HTML table: the example prompt continued by every generation, with distinct-1 and
    seq-rep-4 of each 64-token continuation (the paper's Example 1)."""
    texts = runs.example_texts(setting, seed_index)
    tokens = runs.jobs("main", setting)[seed_index]["metrics"]["example"]
    rows = [f"<tr><td>prompt</td><td colspan='3'><i>{html.escape(runs.example_prompt())}</i>"
            f"</td></tr>"]
    for generation, (text, row) in enumerate(zip(texts, tokens)):
        shown = text if len(text) <= max_chars else text[:max_chars] + " …"
        rows.append(f"<tr><td>{'Real' if generation == 0 else generation}</td>"
                    f"<td>{html.escape(shown)}</td>"
                    f"<td>{lm_data.distinct_n(row[None], 1):.2f}</td>"
                    f"<td>{lm_data.sequence_repetition(row[None], 4):.2f}</td></tr>")
    header = ("<tr><th>generation</th><th>continuation (64 tokens, 5-beam search)</th>"
              "<th>distinct-1</th><th>seq-rep-4</th></tr>")
    return f"<table><thead>{header}</thead><tbody>{''.join(rows)}</tbody></table>"


def quantile_table(runs: LMRun) -> str:
    """HTML table of the per-sequence perplexity quantiles per generation and setting."""
    head = "".join(f"<th>{q:.0%}</th>" for q in QUANTILES)
    rows = []
    for name in runs.setting_names:
        quantiles = runs.pooled_quantiles(name)
        for generation in runs.histogram_generations():
            cells = "".join(f"<td>{value:.1f}</td>" for value in quantiles[generation])
            rows.append(f"<tr><td>{html.escape(setting_label(name))}</td>"
                        f"<td>{'Real' if generation == 0 else generation}</td>{cells}</tr>")
    return (f"<table><thead><tr><th>setting</th><th>generation</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


# --------------------------------------------------------------------------- chapter text
def _settings_ab(runs: LMRun) -> tuple[dict, dict, dict, int]:
    """(summary, setting (a)'s summary, setting (b)'s summary, last generation)."""
    summary = runs.summary()
    a, b = (summary["settings"][name] for name in ("no_real", "keep_10pct"))
    return summary, a, b, runs.settings["n_generations"]


def perplexity_text(runs: LMRun) -> str:
    """Markdown: Figure 1a's numbers (test perplexity of Real and the last generation, the
    ratios per seed, the base model before fine-tuning)."""
    summary, a, b, last = _settings_ab(runs)
    return (
        f"Without original data (a), test perplexity goes from "
        f"**{a['test_perplexity_mean'][0]:.1f}** (Real) to "
        f"**{a['test_perplexity_mean'][last]:.1f}** "
        f"at generation {last}, a ratio of **{a['ratio_last_mean']:.2f}** "
        f"(per seed: {', '.join(f'{r:.2f}' for r in a['ratio_last_per_seed'])}; the paper: about "
        f"1.6–1.8). Keeping 10% of the original blocks (b): "
        f"**{b['test_perplexity_mean'][0]:.1f}** → "
        f"**{b['test_perplexity_mean'][last]:.1f}**, ratio **{b['ratio_last_mean']:.2f}**. "
        f"The base model before fine-tuning scores "
        f"{summary['zero_shot_test_perplexity']:.1f}.")


def perplexity_shape_text(runs: LMRun) -> str:
    """Markdown: does the damage of setting (a) build up or arrive at generation 1, and are
    the last models worse than the base model before fine-tuning?"""
    summary, a, _, last = _settings_ab(runs)
    first_excess = float(np.mean(runs.perplexity_ratio("no_real")[:, 1])) - 1
    if first_excess >= 0.8 * (a["ratio_last_mean"] - 1):
        shape = (f"Unlike the paper's gradual climb, most of the damage in (a) is done at once: "
                 f"generation 1 is already at {1 + first_excess:.2f} × generation 0.")
    else:
        shape = (f"As in the paper, the damage in (a) builds up: generation 1 is at "
                 f"{1 + first_excess:.2f} × generation 0, generation {last} at "
                 f"{a['ratio_last_mean']:.2f} ×.")
    worse_than_base = a["test_perplexity_mean"][last] > summary["zero_shot_test_perplexity"]
    return shape + (
        f" By generation {last} the models of (a) are worse than the base model was before any "
        "fine-tuning: fine-tuning on generated text undoes part of what pretraining taught, "
        "which the paper does not see (its generations stay far below OPT-125m's zero-shot 115)."
        if worse_than_base else "")


def quantiles_text(runs: LMRun) -> str:
    """Markdown: how the median and 99% quantile of the per-sequence perplexity move."""
    _, a, b, last = _settings_ab(runs)
    qa = (a["quantiles_generation_0"], a["quantiles_last"])
    return (
        f"In setting (a) the median sequence perplexity moves from **{qa[0][1]:.1f}** (real "
        f"data) to **{qa[1][1]:.1f}** (generation {last}'s data); the 99% quantile from "
        f"**{qa[0][3]:.1f}** to **{qa[1][3]:.1f}**. In (b), the median moves from "
        f"{b['quantiles_generation_0'][1]:.1f} to {b['quantiles_last'][1]:.1f}.")


def word_types_text(runs: LMRun) -> str:
    """Markdown: the share of rare and of frequent original word types still produced."""
    _, a, b, last = _settings_ab(runs)
    return (
        f"At generation {last} of setting (a), **{a['rare_type_share_last']:.0%}** of the word "
        f"types seen once in the real text still occur, against "
        f"**{a['frequent_type_share_last']:.0%}** of those seen {a['frequent_bucket']} times; "
        f"with 10% real data kept (b): "
        f"{b['rare_type_share_last']:.0%} and {b['frequent_type_share_last']:.0%}.")


def ablation_scale_text(runs: LMRun) -> str:
    """Markdown: the scale the ablations ran at."""
    ablation = runs.settings["ablation"]
    return (f"Ablation scale: {ablation['n_finetune_blocks']} real blocks, {ablation['epochs']} "
            f"epochs, Real + {ablation['n_generations']} generations, seed 0.")


def ablation_text(runs: LMRun) -> str:
    """Markdown: every ablation's last/generation-0 ratio, and how beam search and sampling
    reach theirs."""
    ablations = runs.summary()["ablations"]
    ratios = {name: value["ratio_last"] for name, value in ablations.items()}
    curves = {name: value["test_perplexity"] / value["test_perplexity"][0]
              for name, value in ablations.items()}
    return (
        "Ratio of the last ablation generation's test perplexity to generation 0: "
        + "; ".join(f"{name}: **{ratio:.2f}**" for name, ratio in ratios.items()) + ". "
        + f"Generation 1 alone: beam search with penalty 3.0 "
        f"**{curves['penalty 3.0'][1]:.2f}**, sampling **{curves['sampling T=1'][1]:.2f}** — "
        + ("sampling reaches its final level gradually, beam search at once."
           if curves["sampling T=1"][1] - 1 <= 0.6 * (ratios["sampling T=1"] - 1)
           and curves["penalty 3.0"][1] - 1 > 0.8 * (ratios["penalty 3.0"] - 1)
           else "see the figure for how each curve gets there."))
