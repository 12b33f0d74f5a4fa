"""The language model as a family of the generational loop: a prepared base (tokenizer, block
sets, base weights), fitting = fine-tuning the base on a generation's blocks, generating =
continuing prompt blocks, and the one quantity carried across generations (every generation's
training data scored by generation 0's model, the paper's Figure 1b/c).

Imports only :mod:`collapse.core` and this package's :mod:`.model` and :mod:`.data`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..core.checkpoints import PickleCheckpointer
from ..core.family import ArrayData, GenerationContext
from ..core.loop import Fold
from ..core.policies import MixReal, Policy, policy_from_name
from . import data as lm_data
from . import model as lm_model

__all__ = ["PROMPT_SOURCES", "load_base", "LMState", "LanguageModelFamily", "LMCheckpointer",
           "ScoredByGenerationZero", "MixCurrent", "policy_for"]

#: where prompts come from: the original training blocks (the paper's text) or the data the
#: generating model was trained on (the released script)
PROMPT_SOURCES = ("original", "current")

_BASE_CACHE: dict[str, tuple] = {}


def load_base(directory: str | Path):
    """(tokenizer, corpus, base weights, model config) of a prepared base directory (written by
    :func:`collapse.language_model.base.prepare_base`; memoised per process). The weights are
    read from the folder its ``info.json`` names as ``model_directory`` (a GGUF conversion)
    or else from the base folder itself."""
    directory = str(directory)
    if directory not in _BASE_CACHE:
        import json

        from transformers import AutoTokenizer

        if not lm_model.verify_manifest(directory):
            raise RuntimeError(f"base model directory {directory} is incomplete or corrupt; "
                               f"rerun prepare_base")
        info = json.loads((Path(directory) / "info.json").read_text())
        weights = info.get("model_directory") or directory
        if not lm_model.verify_manifest(weights):
            raise RuntimeError(f"model weights {weights} are incomplete or corrupt; rerun "
                               f"prepare_base")
        model = lm_model.load_model(weights, torch.device("cpu"))
        tokenizer = AutoTokenizer.from_pretrained(directory)
        corpus = lm_data.LMCorpus.load(Path(directory) / "corpus.npz")
        _BASE_CACHE.clear()
        _BASE_CACHE[directory] = (tokenizer, corpus, lm_model.state_of(model), model.config)
    return _BASE_CACHE[directory]


@dataclasses.dataclass
class LMState:
    """A fitted generation: its weights (float32 numpy arrays) and how its fit went."""

    weights: dict[str, np.ndarray]
    info: dict


class LanguageModelFamily:
    """The language model as a :class:`collapse.core.family.Family`.

    Data are arrays of token blocks, shape (n_blocks, block_size). ``fit`` starts from the base
    weights and fine-tunes with ``training`` (best epoch on the real held-out blocks);
    ``generate`` continues prompt blocks — the *original* training blocks (the paper's text,
    default) or the data the generating model was trained on (``prompt_source="current"``, the
    released script) — with ``decoding`` and returns the new tokens as the next dataset. When
    fewer blocks than prompts are asked for (``mix_real``: the rest are real blocks), a random
    subset of the prompts is continued; when more (``growing``), every prompt is continued
    several times (different texts under sampling, the same under beam search).
    """

    data_type = ArrayData(axis=0)

    def __init__(self, base_directory: str | Path, training: lm_model.TrainingSettings,
                 decoding: lm_model.Decoding, prompt_source: str = "original",
                 eval_batch_size: int = 64, generation_batch_size: int = 32,
                 log: Callable[[str], None] | None = None):
        if prompt_source not in PROMPT_SOURCES:
            raise ValueError(f"prompt_source must be one of {', '.join(PROMPT_SOURCES)}; "
                             f"got {prompt_source!r}")
        self.training, self.decoding, self.prompt_source = training, decoding, prompt_source
        self.eval_batch_size, self.generation_batch_size = eval_batch_size, generation_batch_size
        self.log = log
        tokenizer, corpus, base_weights, config = load_base(base_directory)
        self.tokenizer, self.corpus, self.base_weights = tokenizer, corpus, base_weights
        self.device = lm_model.default_device()
        self.module = lm_model.model_from_config(config).to(self.device)
        self.scorer = lm_model.model_from_config(config).to(self.device)
        self._loaded: LMState | None = None  # the LMState whose weights self.module holds
        self._scorer_weights: dict | None = None  # the weights self.scorer holds
        self.last_generate_rate = float("nan")  # new tokens/s of the latest generate call

    # -- loop protocol
    def fit(self, data: np.ndarray, rng: np.random.Generator) -> LMState:
        lm_model.load_state(self.module, self.base_weights)
        info = lm_model.fine_tune(self.module, np.asarray(data), self.corpus.selection,
                                  self.training, rng, eval_batch_size=self.eval_batch_size,
                                  log=self.log)
        state = LMState(lm_model.state_of(self.module), info)
        self._loaded = state
        return state

    def generate(self, model: LMState, n: int, rng: np.random.Generator,
                 context: GenerationContext) -> np.ndarray:
        prompts = context.real if self.prompt_source == "original" else context.previous
        prompts = np.asarray(prompts)
        if n > len(prompts):  # `growing`: every prompt is continued several times
            prompts = prompts[np.arange(n) % len(prompts)]
        if n < len(prompts):
            prompts = prompts[np.sort(rng.choice(len(prompts), size=n, replace=False))]
        module = self.load(model)
        blocks, rate = lm_model.generate_continuations(module, prompts, self.decoding, rng,
                                                       self.generation_batch_size)
        self.last_generate_rate = rate
        return blocks

    # -- helpers
    def load(self, model: LMState):
        """The torch module holding ``model``'s weights."""
        if self._loaded is not model:
            lm_model.load_state(self.module, model.weights)
            self._loaded = model
        return self.module

    def sequence_perplexities(self, weights: dict[str, np.ndarray],
                              blocks: np.ndarray) -> np.ndarray:
        """One perplexity per block under the model with ``weights``, shape (n_blocks,)."""
        if self._scorer_weights is not weights:
            lm_model.load_state(self.scorer, weights)
            self._scorer_weights = weights
        return lm_model.sequence_perplexities(self.scorer, np.asarray(blocks),
                                              self.eval_batch_size)


class ScoredByGenerationZero(Fold):
    """Every generation's training data scored by generation 0's model (the model fitted to
    real data): one perplexity per block (the paper's Figure 1b/c), and once, the
    ``reference`` blocks (real text the scorer never trained on, the histograms' yardstick).

    Value: {"scorer": generation 0's weights, "reference": perplexities of the reference
    blocks (n_reference,), "per_generation": [perplexities of generation n's data, shape
    (n_blocks_n,)] for n = 0..}. The scorer travels with the value, so a resumed run scores
    with the same model as an uninterrupted one.
    """

    def __init__(self, family: LanguageModelFamily, reference: np.ndarray):
        self.family, self.reference = family, np.asarray(reference)

    def start(self, model: LMState, data: np.ndarray) -> dict[str, Any]:
        return {"scorer": model.weights,
                "reference": self.family.sequence_perplexities(model.weights, self.reference),
                "per_generation": [self.family.sequence_perplexities(model.weights, data)]}

    def step(self, value, model, data, generation):
        scored = self.family.sequence_perplexities(value["scorer"], data)
        return {**value, "per_generation": [*value["per_generation"], scored]}


class LMCheckpointer(PickleCheckpointer):
    """:class:`collapse.core.checkpoints.PickleCheckpointer` (one pickle + sha256 per
    generation) that can also load one given generation (to inspect what it trained on).
    ``keep_all=False`` deletes the earlier generations' files once a later one is saved
    (a 135M-parameter model's checkpoint holds two 0.5 GB weight sets; resuming needs only
    the latest)."""

    def __init__(self, directory, keep_all: bool = True):
        super().__init__(directory)
        self.keep_all = keep_all

    def save(self, generation: int, state: dict) -> None:
        super().save(generation, state)
        if not self.keep_all:
            for older in range(generation):
                for suffix in (".pkl", ".sha256"):
                    self._path(older).with_suffix(suffix).unlink(missing_ok=True)

    def load(self, generation: int) -> dict | None:
        """The verified state of ``generation``, or None when missing or corrupt."""
        path = self._path(generation)
        try:
            payload = path.read_bytes()
            expected = path.with_suffix(".sha256").read_text().strip()
        except OSError:
            return None
        if hashlib.sha256(payload).hexdigest() != expected:
            return None
        return pickle.loads(payload)


class MixCurrent(MixReal):
    """`mix_current(f)`, the released script's option: M blocks, round(f·M) drawn afresh from
    the data the previous generation trained on (at generation 1 the real data) and the rest
    generated by the previous generation. (The paper's text, `mix_real(f)`, draws them from the
    original data.)"""

    name = "mix_current"

    def label(self) -> str:
        return f"mix_current({self.fraction:g})"

    def next_data(self, family, model, pool, real, previous, generation, rng):
        size = self.size_for(generation, family.data_type, real)
        n_keep = int(round(self.fraction * size))
        context = GenerationContext(generation - 1, real, previous)
        parts = [family.data_type.take(previous, n_keep, rng)] if n_keep else []
        if size - n_keep:
            parts.append(family.generate(model, size - n_keep, rng, context))
        return family.data_type.concat(parts), pool


def policy_for(name: str, sample_size: int | None = None) -> Policy:
    """The data policy ``name``: ``"mix_current(f)"`` (:class:`MixCurrent`) or any name of
    :func:`collapse.core.policies.policy_from_name` (``sample_size``: M₀ of ``"growing"``,
    M_n = M₀ (n + 1) blocks)."""
    if isinstance(name, str) and name.startswith("mix_current(") and name.endswith(")"):
        try:
            fraction = float(name[len("mix_current("):-1])
        except ValueError:
            raise ValueError(f"mix_current needs a fraction in [0, 1], got {name!r}") from None
        return MixCurrent(fraction)
    if name == "growing":
        return policy_from_name(name, sample_size=sample_size)
    return policy_from_name(name)
