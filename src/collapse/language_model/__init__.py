"""Language models fine-tuned on their own text (the paper's "Language model" section and
Figure 1; chapter ``book/language_model.md``).

An OPT causal language model is fine-tuned on WikiText-2 (generation 0, "Real"); every later
generation fine-tunes the same base on 64-token continuations written by the previous one
(5-beam search), with no original data or 10% of it kept; test perplexity, per-sequence
perplexity under generation 0, diversity and forgotten word types are followed per generation.

Modules:

* :mod:`.data` — WikiText-2 tokenized into 64-token blocks, corpus splits, word statistics;
* :mod:`.model` — the OPT model: building, fine-tuning, perplexity, prompted generation;
* :mod:`.family` — the family of the generational loop (fit = fine-tune, generate = continue
  prompts), the per-sequence scoring fold, checkpoints;
* :mod:`.experiments` — the base model, the jobs, :func:`run` and :func:`record_metrics`;
* :mod:`.runs` — :class:`LMRun`, the results and what is derived from them;
* :mod:`.figures` — the chapter's figures, tables and text;
* :mod:`.claims` — :func:`declare_claims` and :func:`evaluate_claims`.
"""
from .claims import declare_claims, evaluate_claims
from .experiments import record_metrics, run
from .family import LanguageModelFamily, LMCheckpointer, LMState, load_base
from .runs import QUANTILES, LMRun

__all__ = ["declare_claims", "run", "record_metrics", "evaluate_claims",
           "LanguageModelFamily", "LMCheckpointer", "LMState", "load_base", "LMRun",
           "QUANTILES"]
