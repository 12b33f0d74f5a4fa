"""The results of the language-model chapter and every quantity derived from them.

:class:`LMRun` holds one arm (the small model, or SmolLM2): its base and every chain's
per-generation metrics, and measures what the claims read (perplexity ratios, the share of the
fine-tuning gain lost, generated data against held-out real blocks under the generation-0
scorer, the tail against the first generated data, word types against the real-vs-real null).
:class:`SweepResult` is the regime gate's sweep; :class:`LMChapterRuns` the whole chapter, with
:meth:`LMChapterRuns.claim_values` (what :mod:`.claims` evaluates) and the headline metrics.

Indexing: "the data of generation g" are the blocks generation g trained on; for g ≥ 1 they
were written by generation g − 1 (generation 1's data are the first generated data).
"""
from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import gammaln

from ..core.stats import bootstrap_interval
from . import data as lm_data
from .chains import QUANTILES
from .family import load_base

if TYPE_CHECKING:
    from .base import BaseInfo

__all__ = ["QUANTILES", "exceedance_pmf", "gate_conditions", "SweepResult", "LMRun", "LMChapterRuns",
           "TAIL_QUANTILE"]

TAIL_QUANTILE = 0.95


def exceedance_pmf(n: int, m: int, rank: int) -> np.ndarray:
    """Distribution of the number K of m new draws above the ``rank``-th smallest of n earlier
    draws of the same continuous distribution (Gumbel & von Schelling 1950, distribution-free):
    P(K = j) = C(n − rank + j, j) C(rank − 1 + m − j, m − j) / C(n + m, m); shape (m + 1,)."""
    j = np.arange(m + 1)
    log_p = (gammaln(n - rank + j + 1) - gammaln(j + 1) - gammaln(n - rank + 1)
             + gammaln(rank + m - j) - gammaln(m - j + 1) - gammaln(rank)
             - gammaln(n + m + 1) + gammaln(m + 1) + gammaln(n + 1))
    return np.exp(log_p)


def _interval(values) -> tuple[float, float]:
    """90% seed-bootstrap interval of the mean of per-seed ``values`` (one seed: the value)."""
    return bootstrap_interval(np.asarray(values, float), np.mean)


def gate_conditions(row: dict, gate: dict, zero_shot: float) -> dict[str, bool]:
    """The regime gate on one candidate's generation-0 text: condition -> holds. ``row`` has
    ``seq_rep_4``/``seq_rep_4_real``, ``distinct_4``/``distinct_4_real`` (written blocks and as
    many real blocks) and ``test_perplexity`` (generation 0); ``gate`` the declared factors."""
    factor, floor, share = gate["seq_rep_4_factor"], gate["seq_rep_4_floor"], \
        gate["distinct_4_share"]
    return {
        f"seq-rep-4 ≤ {factor:g} × real + {floor:g}":
            bool(row["seq_rep_4"] <= factor * row["seq_rep_4_real"] + floor),
        f"distinct-4 ≥ {share:g} × real": bool(row["distinct_4"] >= share * row["distinct_4_real"]),
        "fine-tuning helps (generation-0 test perplexity < zero-shot)":
            bool(row["test_perplexity"] < zero_shot),
    }


@dataclasses.dataclass
class SweepResult:
    """The declared sweep: one row per candidate (its learning rate and repetition penalty,
    the gate statistics of its generation-0 text, generation 0's test perplexity), the base's
    zero-shot perplexity and the gate's factors."""

    rows: list[dict]
    zero_shot: float
    gate: dict

    def conditions(self, row: dict) -> dict[str, bool]:
        return gate_conditions(row, self.gate, self.zero_shot)

    @property
    def chosen_index(self) -> int:
        """The first candidate passing every condition, else the one failing fewest."""
        failures = [sum(not ok for ok in self.conditions(row).values()) for row in self.rows]
        return int(np.argmin(failures))

    @property
    def chosen(self) -> dict:
        return self.rows[self.chosen_index]

    @property
    def passed(self) -> bool:
        return all(self.conditions(self.chosen).values())

    def summary_line(self) -> str:
        chosen = self.chosen
        return (f"regime gate: {'passed' if self.passed else 'NOT passed'} by lr "
                f"{chosen['lr']:g}, repetition penalty {chosen['repetition_penalty']:g} "
                f"(candidate {self.chosen_index + 1} of {len(self.rows)})")


@dataclasses.dataclass
class LMRun:
    """One arm: its settings, its base, and each job's per-generation metrics."""

    settings: dict
    base: BaseInfo
    results: list[dict]

    # -- selection
    def jobs(self, kind: str = "main", setting: str | None = None,
             decoding: str | None = None) -> list[dict]:
        chosen = [result for result in self.results if result["job"].kind == kind
                  and (setting is None or result["job"].setting == setting)
                  and (decoding is None or result["job"].decoding_name == decoding)]
        return sorted(chosen, key=lambda result: result["job"].seed_index)

    def pairs(self, kind: str = "main") -> list[tuple[str, str]]:
        """The (setting, decoding) pairs of ``kind`` that ran, in the profile's order."""
        seen = []
        for result in self.results:
            job = result["job"]
            if job.kind == kind and (job.setting, job.decoding_name) not in seen:
                seen.append((job.setting, job.decoding_name))
        comparison = self.settings.get("decoding_comparison") or {}
        settings = [*self.settings.get("settings", {}), *self.settings.get("variants", {}),
                    *comparison.get("policies", [])]
        decodings = [*self.settings.get("decodings", {}), *comparison.get("decodings", {})]

        def order(pair):
            setting, decoding = pair
            return (settings.index(setting) if setting in settings else len(settings),
                    decodings.index(decoding) if decoding in decodings else len(decodings))
        return sorted(seen, key=order)

    def metric(self, name: str, setting: str, decoding: str = "beam",
               kind: str = "main") -> np.ndarray:
        """Metric ``name`` of every seed: shape (n_seeds, n_generations + 1, ...)."""
        chosen = self.jobs(kind, setting, decoding)
        if not chosen:
            raise KeyError(f"no {kind} chains of setting {setting!r} with decoding "
                           f"{decoding!r}; ran: {self.pairs(kind)}")
        return np.stack([result["metrics"][name] for result in chosen])

    @property
    def n_generations(self) -> int:
        return self.settings["n_generations"]

    @property
    def generations(self) -> np.ndarray:
        return np.arange(self.n_generations + 1)

    @property
    def zero_shot(self) -> float:
        return float(self.base.info["zero_shot_test_perplexity"])

    # -- Figure 1's right panels
    def perplexity_ratio(self, setting: str, decoding: str = "beam",
                         kind: str = "main") -> np.ndarray:
        """Test perplexity over generation 0's, per seed: (n_seeds, n_generations + 1)."""
        values = self.metric("test_perplexity", setting, decoding, kind)
        return values / values[:, :1]

    def degradation(self, setting: str = "no_real", decoding: str = "beam") -> dict:
        """The last / generation-0 ratio (per seed, its interval) and the mean excess
        (ratio − 1) at generation 1 and at the last generation."""
        ratio = self.perplexity_ratio(setting, decoding)
        return {"per_seed": ratio[:, -1], "ratio_interval": _interval(ratio[:, -1]),
                "last_ratio": float(ratio[:, -1].mean()),
                "first_excess": float(ratio[:, 1].mean() - 1),
                "last_excess": float(ratio[:, -1].mean() - 1)}

    def gain_lost(self, setting: str = "no_real", decoding: str = "beam") -> np.ndarray:
        """Per seed, the share of the fine-tuning gain lost by the last generation:
        (ppl_last − ppl₀) / (ppl_zero-shot − ppl₀); shape (n_seeds,)."""
        values = self.metric("test_perplexity", setting, decoding)
        with np.errstate(divide="ignore", invalid="ignore"):  # no gain: ±inf or NaN
            return (values[:, -1] - values[:, 0]) / (self.zero_shot - values[:, 0])

    # -- Figure 1's left panels
    def pooled_quantiles(self, setting: str, decoding: str = "beam") -> np.ndarray:
        """Quantiles (:data:`QUANTILES`) of the per-sequence perplexity of each generation's
        data under generation 0, pooled over seeds: (n_generations + 1, len(QUANTILES))."""
        values = self.metric("sequence_perplexity", setting, decoding)
        return np.quantile(np.moveaxis(values, 1, 0).reshape(values.shape[1], -1), QUANTILES,
                           axis=1).T

    def probable_log_ratio(self, setting: str, decoding: str = "beam") -> np.ndarray:
        """Per seed and generation, log(median perplexity of the generation's data / median of
        the held-out real reference blocks), both under generation 0: (n_seeds, n_generations
        + 1); < 0 = the data are more 'probable' than real text."""
        data = self.metric("sequence_perplexity", setting, decoding)
        reference = self.metric("reference_sequence_perplexity", setting, decoding)
        return np.log(np.median(data, axis=2)) - np.log(np.median(reference, axis=1))[:, None]

    def tail_exceedance(self, setting: str = "no_real", decoding: str = "beam") -> dict:
        """How many sequences of the last generation's data lie above the
        :data:`TAIL_QUANTILE` quantile of the first generated data (generation 1) of the same
        seed, pooled over seeds, with the one-sided exact p-value of that count when nothing
        changed (:func:`exceedance_pmf`, seeds convolved)."""
        data = self.metric("sequence_perplexity", setting, decoding)
        n, m = data.shape[2], data.shape[2]
        rank = int(np.ceil(TAIL_QUANTILE * n))  # the threshold is this order statistic
        thresholds = np.sort(data[:, 1], axis=1)[:, rank - 1]
        exceed = int((data[:, -1] > thresholds[:, None]).sum())
        null = exceedance_pmf(n, m, rank)
        pooled = null
        for _ in range(len(data) - 1):  # seeds are independent: the counts add up
            pooled = np.convolve(pooled, null)
        total = int(data[:, -1].size)
        return {"exceed": exceed, "n": total, "share": exceed / total,
                "p": float(min(1.0, pooled[exceed:].sum()))}

    # -- words
    def frequent_bucket(self, setting: str = "no_real", decoding: str = "beam") -> int:
        """The most frequent bucket that holds any original word type."""
        shares = self.metric("word_type_share", setting, decoding)[:, 0]
        return int(np.flatnonzero(~np.isnan(shares).all(axis=0))[-1])

    def word_retention(self, setting: str = "no_real", decoding: str = "beam") -> np.ndarray:
        """Per seed, generation and bucket, the share of the original word types present in
        the generation's data divided by the share in as many held-out real blocks (the
        real-vs-real null: 1): (n_seeds, n_generations + 1, buckets)."""
        shares = self.metric("word_type_share", setting, decoding)
        reference = self.metric("reference_word_type_share", setting, decoding)
        return shares / reference[:, None, :]

    def retention_gap(self, setting: str = "no_real", decoding: str = "beam") -> np.ndarray:
        """Per seed, retention of the frequent bucket minus retention of types seen once, at
        the last generation: (n_seeds,). 0 under the real-vs-real null."""
        retention = self.word_retention(setting, decoding)[:, -1]
        return retention[:, self.frequent_bucket(setting, decoding)] - retention[:, 0]

    # -- the gate on the arm's own first generated data
    def own_gate_row(self, setting: str = "no_real", decoding: str = "beam") -> dict:
        """The gate's statistics for this arm's generation-1 data (written by generation 0 with
        the main decoding) beside as many real reference blocks (mean over seeds)."""
        tokenizer, corpus = load_base(self.base.directory)[:2]
        chosen = self.jobs("main", setting, decoding)
        reference = corpus.test[:chosen[0]["job"].n_reference_blocks]
        return {"seq_rep_4": float(self.metric("sequence_repetition_4", setting, decoding)
                                   [:, 1].mean()),
                "seq_rep_4_real": lm_data.sequence_repetition(reference, 4),
                "distinct_4": float(self.metric("distinct_n", setting, decoding)[:, 1, 3].mean()),
                "distinct_4_real": lm_data.distinct_n(reference, 4),
                "test_perplexity": float(self.metric("test_perplexity", setting, decoding)
                                         [:, 0].mean())}

    # -- text
    def example_texts(self, setting: str = "no_real", decoding: str = "beam",
                      seed_index: int = 0) -> list[str]:
        """The example prompt's continuation by every generation of one chain."""
        tokenizer = load_base(self.base.directory)[0]
        result = self.jobs("main", setting, decoding)[seed_index]
        return lm_data.decode_blocks(tokenizer, result["metrics"]["example"])

    def example_prompt(self) -> str:
        tokenizer, corpus = load_base(self.base.directory)[:2]
        index = self.settings["example_prompt_index"]
        return lm_data.decode_blocks(tokenizer, corpus.test[index:index + 1])[0]

    def sample_text(self, kind: str, setting: str, decoding: str, generation: int,
                    block: int = 0) -> str:
        """One block of a chain's data at ``generation`` (seed 0), read from its checkpoint
        (empty when the checkpoint is gone)."""
        from .family import LMCheckpointer

        result = self.jobs(kind, setting, decoding)[0]
        saved = LMCheckpointer(result["directory"]).load(generation)
        if saved is None:
            return ""
        tokenizer = load_base(self.base.directory)[0]
        return lm_data.decode_blocks(tokenizer, np.asarray(saved["data"])[block:block + 1])[0]

    # -- cost
    def throughput(self) -> dict[str, float]:
        """Median tokens/s over all jobs and generations: training, generation by decoding
        kind (beam search, sampling/greedy), scoring; and the base's pretraining."""
        def median(name, keep=lambda job: True):
            values = [np.ravel(r["metrics"][name]) for r in self.results if keep(r["job"])]
            return float(np.nanmedian(np.concatenate(values))) if values else float("nan")

        beam = lambda job: not job.decoding.do_sample and job.decoding.num_beams > 1  # noqa
        return {"train_tokens_per_second": median("train_tokens_per_second"),
                "beam_tokens_per_second": median("generate_tokens_per_second", beam),
                "sampling_tokens_per_second": median(
                    "generate_tokens_per_second", lambda job: job.decoding.do_sample),
                "score_tokens_per_second": median("score_tokens_per_second"),
                "pretrain_tokens_per_second": float(
                    self.base.info.get("pretrain_tokens_per_second", np.nan))}

    def job_seconds(self) -> float:
        return float(sum(result["seconds"] for result in self.results))

    def compute_cost(self) -> dict[str, float] | None:
        """What computing the checkpoints cost (every session that computed generations);
        None when some checkpoints predate these records."""
        timings = [result.get("timing") for result in self.results]
        if not timings or any(timing is None for timing in timings):
            return None
        return {"job_seconds": sum(t["seconds"] for t in timings),
                "job_cpu_seconds": sum(t["cpu_seconds"] for t in timings),
                "base_seconds": float(self.base.info.get("seconds", 0.0)),
                "worker_peak_rss_mb": max(t["peak_rss_mb"] for t in timings)}

    def reused_jobs(self) -> int:
        return sum(result["resumed_from"] == result["job"].n_generations
                   for result in self.results)


@dataclasses.dataclass
class LMChapterRuns:
    """Everything the chapter shows: the gate's sweep, the arms (``"small"``, and
    ``"smollm2"`` when the profile runs it), wall time and memory."""

    settings: dict
    gate: SweepResult
    arms: dict[str, LMRun]
    seconds: float
    main_peak_rss_mb: float

    @property
    def small(self) -> LMRun:
        return self.arms["small"]

    @property
    def smollm2(self) -> LMRun | None:
        return self.arms.get("smollm2")

    def peak_memory_mb(self) -> float:
        """Main process + the largest worker × the parallel workers (an upper bound)."""
        results = [r for arm in self.arms.values() for r in arm.results]
        workers = max(result["peak_rss_mb"] for result in results)
        n_jobs = self.settings["n_jobs"]
        parallel = 1 if n_jobs == 1 else min(len(results), os.cpu_count() if n_jobs < 0
                                             else n_jobs)
        return self.main_peak_rss_mb + (0 if n_jobs == 1 else parallel * workers)

    # -- claims
    def claim_values(self) -> dict[str, tuple[Any, str, str]]:
        """Claim id -> (the value its criterion reads, how it is shown, note)."""
        small, out = self.small, {}
        last, seeds = small.n_generations, self.settings["n_seeds"]
        fmt = lambda i: f"[{i[0]:.2f}, {i[1]:.2f}]"  # noqa: E731
        ratio0 = small.metric("test_perplexity", "no_real")[:, 0] / small.zero_shot
        out["finetuning-helps"] = (
            {"mean": float(ratio0.mean()), "interval": _interval(ratio0)},
            f"zero-shot {small.zero_shot:.1f} → {small.metric('test_perplexity', 'no_real')[:, 0].mean():.1f}; "
            f"ratio {ratio0.mean():.2f}, interval {fmt(_interval(ratio0))}", f"{seeds} seeds")
        a = small.degradation("no_real")
        out["degrades-without-real-data"] = (
            a, f"ratio {a['last_ratio']:.2f} at generation {last}, interval "
               f"{fmt(a['ratio_interval'])}; excess at generation 1: {a['first_excess']:.2f}, "
               f"at {last}: {a['last_excess']:.2f}", f"{seeds} seeds, 90% seed bootstrap")
        share = small.gain_lost("no_real")
        out["gain-lost"] = ({"mean": float(share.mean()), "interval": _interval(share)},
                            f"share {share.mean():.2f}, interval {fmt(_interval(share))}",
                            f"{seeds} seeds")
        b = small.degradation("keep_10pct")
        b_excess = small.perplexity_ratio("keep_10pct")[:, -1] - 1
        out["real-data-limits-damage"] = (
            {"b_excess_interval": _interval(b_excess), "a_excess": a["last_excess"],
             "b_ratio": b["last_ratio"], "a_ratio": a["last_ratio"]},
            f"ratio (b) {b['last_ratio']:.2f} (excess interval {fmt(_interval(b_excess))}) vs "
            f"(a) {a['last_ratio']:.2f}", "")
        probable = {"first": {}, "last": {}}
        for name in ("no_real", "keep_10pct"):
            values = small.probable_log_ratio(name)
            probable["first"][name], probable["last"][name] = \
                _interval(values[:, 1]), _interval(values[:, -1])
        out["data-become-probable"] = (probable, "; ".join(
            f"{name}: generation 1 {fmt(probable['first'][name])}, {last} "
            f"{fmt(probable['last'][name])}" for name in probable["last"]),
            "intervals of log(median generated / median held-out real)")
        tail = small.tail_exceedance("no_real")
        out["long-error-tail"] = (tail, f"{tail['exceed']}/{tail['n']} = {tail['share']:.1%} "
                                        f"above generation 1's 95% quantile; p = {tail['p']:.2g}",
                                  "")
        gap = small.retention_gap("no_real")
        out["rare-words-forgotten-first"] = (
            {"mean": float(gap.mean()), "interval": _interval(gap)},
            f"retention gap {gap.mean():.2f}, interval {fmt(_interval(gap))}",
            "retention = share kept / share in as many held-out real blocks")
        ratios = {name: float(small.perplexity_ratio("replace", name, "decoding")[0, -1])
                  for _, name in small.pairs("decoding") if _ == "replace"}
        out["penalty-does-not-help"] = (
            ratios, f"penalty 2.0: {ratios['beam, penalty 2.0']:.2f}, 3.0: "
                    f"{ratios['beam, penalty 3.0']:.2f}",
            f"one seed, {small.settings['decoding_comparison']['n_generations']} generations")
        gate = self.gate.conditions(self.gate.chosen)
        out["regime-gate"] = (gate, "; ".join(f"{name}: {'yes' if ok else 'no'}"
                                              for name, ok in gate.items()), "")
        sampled = small.perplexity_ratio("no_real", "sampling")[:, -1]
        out["sampling-degrades"] = (
            {"interval": _interval(sampled)},
            f"ratio {sampled.mean():.2f}, interval {fmt(_interval(sampled))}", f"{seeds} seeds")
        accumulate = {name: (float(small.perplexity_ratio("accumulate", name, "decoding")[0, -1]),
                             float(small.perplexity_ratio("replace", name, "decoding")[0, -1]))
                      for _, name in small.pairs("decoding") if _ == "replace"}
        out["accumulating-limits-damage"] = (accumulate, "; ".join(
            f"{name}: {a_:.2f} vs {r_:.2f}" for name, (a_, r_) in accumulate.items()),
            "accumulate vs replace, one seed")
        if self.smollm2 is not None:
            smol = self.smollm2
            ratio0 = smol.metric("test_perplexity", "no_real")[:, 0] / smol.zero_shot
            out["smollm2-finetuning-helps"] = (
                {"mean": float(ratio0.mean())},
                f"zero-shot {smol.zero_shot:.1f} → "
                f"{smol.metric('test_perplexity', 'no_real')[:, 0].mean():.1f}", "")
            d = smol.degradation("no_real")
            out["smollm2-degrades"] = (
                d, f"ratio {d['last_ratio']:.2f} at generation {smol.n_generations}; excess at 1: "
                   f"{d['first_excess']:.2f}", f"{len(d['per_seed'])} seed(s)")
        return out

    # -- the results file
    def headline_metrics(self) -> dict[str, Any]:
        """name -> value for the results file."""
        out: dict[str, Any] = {
            "gate_sweep": [{**row, "conditions": self.gate.conditions(row)}
                           for row in self.gate.rows],
            "gate_chosen": self.gate.chosen_index, "gate_passed": self.gate.passed,
            "experiment_wall_seconds": self.seconds, "peak_memory_mb": self.peak_memory_mb()}
        for arm_name, arm in self.arms.items():
            prefix = f"{arm_name}_"
            out[prefix + "zero_shot_test_perplexity"] = arm.zero_shot
            out[prefix + "parameters"] = arm.base.info["parameters"]
            for setting, decoding in arm.pairs():
                values = arm.metric("test_perplexity", setting, decoding)
                key = f"{prefix}{setting}_{decoding}"
                out[key + "_test_perplexity_mean"] = values.mean(axis=0)
                out[key + "_test_perplexity_sd"] = values.std(axis=0, ddof=1) \
                    if len(values) > 1 else np.zeros(values.shape[1])
                out[key + "_ratio_last"] = float((values[:, -1] / values[:, 0]).mean())
                out[key + "_gain_lost"] = float(arm.gain_lost(setting, decoding).mean())
                out[key + "_next_token_entropy"] = arm.metric(
                    "next_token_entropy", setting, decoding).mean(axis=0)
                out[key + "_top1_mass"] = arm.metric("top1_mass", setting, decoding).mean(axis=0)
            out[prefix + "throughput_tokens_per_second"] = arm.throughput()
            out[prefix + "compute_cost_seconds"] = arm.compute_cost()
        small = self.small
        out["decoding_comparison_ratio_last"] = {
            f"{policy} / {name}": float(small.perplexity_ratio(policy, name, "decoding")[0, -1])
            for policy, name in small.pairs("decoding")}
        out["variant_ratio_last"] = {
            f"{setting} / {decoding}": float(small.perplexity_ratio(setting, decoding,
                                                                    "variant")[:, -1].mean())
            for setting, decoding in small.pairs("variant")}
        return out
