"""The results of the language-model chapter: :class:`LMRun` holds the base model's record and
every job's per-generation metrics, and derives what the figures and claims read (perplexity
ratios to generation 0, pooled per-sequence perplexity quantiles, the summary, throughput,
compute cost and memory)."""
from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from . import data as lm_data
from .family import load_base

if TYPE_CHECKING:
    from .experiments import BaseInfo

__all__ = ["QUANTILES", "LMRun"]

#: quantiles of the per-sequence perplexity reported for every generation (5%, median, 95%, 99%)
QUANTILES = (0.05, 0.5, 0.95, 0.99)


@dataclasses.dataclass
class LMRun:
    """Everything the chapter shows: the base, and each job's per-generation metrics."""

    settings: dict
    base: BaseInfo
    results: list[dict]
    seconds: float
    main_peak_rss_mb: float

    # -- selection
    def jobs(self, kind: str = "main", setting: str | None = None) -> list[dict]:
        chosen = [result for result in self.results if result["job"].kind == kind
                  and (setting is None or result["job"].setting == setting)]
        return sorted(chosen, key=lambda result: result["job"].seed_index)

    @property
    def setting_names(self) -> list[str]:
        return list(self.settings["settings"])

    @property
    def ablation_names(self) -> list[str]:
        return list(self.settings["ablation"]["variants"])

    def metric(self, name: str, setting: str, kind: str = "main") -> np.ndarray:
        """Metric ``name`` of every seed of ``setting``: shape (n_seeds, n_generations + 1, ...)."""
        return np.stack([result["metrics"][name] for result in self.jobs(kind, setting)])

    @property
    def generations(self) -> np.ndarray:
        return np.arange(self.settings["n_generations"] + 1)

    # -- derived quantities
    def perplexity_ratio(self, setting: str, kind: str = "main") -> np.ndarray:
        """Test perplexity over generation 0's, per seed: shape (n_seeds, n_generations + 1)."""
        values = self.metric("test_perplexity", setting, kind)
        return values / values[:, :1]

    def pooled_quantiles(self, setting: str) -> np.ndarray:
        """Quantiles (:data:`QUANTILES`) of the per-sequence perplexity of each generation's
        training data, pooled over seeds: shape (n_generations + 1, len(QUANTILES))."""
        values = self.metric("sequence_perplexity", setting)  # (seeds, generations, blocks)
        return np.quantile(np.moveaxis(values, 1, 0).reshape(values.shape[1], -1), QUANTILES,
                           axis=1).T

    def histogram_generations(self) -> list[int]:
        return [g for g in self.settings["histogram_generations"]
                if g <= self.settings["n_generations"]]

    def example_texts(self, setting: str, seed_index: int = 0) -> list[str]:
        """The example prompt's continuation by every generation of one run."""
        tokenizer = load_base(self.base.directory)[0]
        result = self.jobs("main", setting)[seed_index]
        return lm_data.decode_blocks(tokenizer, result["metrics"]["example"])

    def example_prompt(self) -> str:
        tokenizer, corpus = load_base(self.base.directory)[:2]
        index = self.settings["example_prompt_index"]
        return lm_data.decode_blocks(tokenizer, corpus.test[index:index + 1])[0]

    def throughput(self) -> dict[str, float]:
        """Median training and generation tokens/s over all jobs and generations."""
        train = np.concatenate([np.ravel(r["metrics"]["train_tokens_per_second"])
                                for r in self.results])
        generate = np.concatenate([np.ravel(r["metrics"]["generate_tokens_per_second"])
                                   for r in self.results])
        return {"train_tokens_per_second": float(np.nanmedian(train)),
                "generate_tokens_per_second": float(np.nanmedian(generate)),
                "pretrain_tokens_per_second": float(
                    self.base.info.get("pretrain_tokens_per_second", np.nan))}

    def job_seconds(self) -> float:
        """Sum of the jobs' wall times in this session (one thread each; inflated when the
        machine is shared, near zero when every job was reused from its checkpoints)."""
        return float(sum(result["seconds"] for result in self.results))

    def compute_cost(self) -> dict[str, float] | None:
        """What computing the checkpoints cost, summed over the jobs (every session that
        computed generations): wall seconds, CPU seconds, and the base's seconds. None when
        some checkpoints predate these records."""
        timings = [result.get("timing") for result in self.results]
        if any(timing is None for timing in timings):
            return None
        return {"job_seconds": sum(t["seconds"] for t in timings),
                "job_cpu_seconds": sum(t["cpu_seconds"] for t in timings),
                "base_seconds": float(self.base.info.get("seconds", 0.0)),
                "worker_peak_rss_mb": max(t["peak_rss_mb"] for t in timings)}

    def reused_jobs(self) -> int:
        """How many jobs were already complete in their checkpoints (nothing recomputed)."""
        return sum(result["resumed_from"] == result["job"].n_generations
                   for result in self.results)

    def summary(self) -> dict[str, Any]:
        """The chapter's headline numbers (claims and the results file read these).

        Per setting: mean test perplexity per generation, the generation-n / generation-0 ratio
        per seed at the last generation, the pooled per-sequence perplexity quantiles of
        generation 0 and of the last generation, and the share of rare (count 1) and frequent
        (count ≥ 64) original word types still produced at the last generation. Per ablation
        variant: the last-generation perplexity ratio.
        """
        last = self.settings["n_generations"]
        out: dict[str, Any] = {
            "zero_shot_test_perplexity": self.base.info["zero_shot_test_perplexity"],
            "settings": {}, "ablations": {}}
        for name in self.setting_names:
            perplexity = self.metric("test_perplexity", name)
            quantiles = self.pooled_quantiles(name)
            shares = self.metric("word_type_share", name)[:, last]  # (seeds, buckets)
            # the most frequent bucket holding any original type (≥ 64 in book/paper)
            frequent = int(np.flatnonzero(~np.isnan(shares).all(axis=0))[-1])
            out["settings"][name] = {
                "test_perplexity_mean": perplexity.mean(axis=0),
                "test_perplexity_per_seed": perplexity,
                "ratio_last_per_seed": perplexity[:, last] / perplexity[:, 0],
                "ratio_last_mean": float(np.mean(perplexity[:, last] / perplexity[:, 0])),
                "quantiles_generation_0": quantiles[0],
                "quantiles_last": quantiles[last],
                "rare_type_share_last": float(np.nanmean(shares[:, 0])),
                "frequent_type_share_last": float(np.nanmean(shares[:, frequent])),
                "frequent_bucket": lm_data.bucket_labels()[frequent],
            }
        for name in self.ablation_names:
            values = self.jobs("ablation", name)[0]["metrics"]["test_perplexity"]
            out["ablations"][name] = {"test_perplexity": values,
                                      "ratio_last": float(values[-1] / values[0])}
        return out

    def peak_memory_mb(self) -> float:
        """Main process + the largest worker × the number of parallel workers (an upper
        bound of the peak resident memory of the whole run)."""
        workers = max(result["peak_rss_mb"] for result in self.results)
        n_jobs = self.settings["n_jobs"]
        parallel = 1 if n_jobs == 1 else min(len(self.results),
                                             os.cpu_count() if n_jobs < 0 else n_jobs)
        return self.main_peak_rss_mb + (0 if n_jobs == 1 else parallel * workers)
