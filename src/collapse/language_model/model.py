"""The causal language models of the language-model chapter: building (a small OPT),
training, perplexity and prompted generation (transformers models throughout).

Paper quantities computed here (Shumailov et al. 2024, "Language model"):

* :func:`fine_tune` — AdamW, cosine learning rate stepped once per epoch down to ``eta_min``
  (the released script: lr 2e-5, eta_min 1e-6, batch 128 for OPT-125m), the best epoch chosen
  by perplexity on real held-out text;
* :func:`perplexity` — test perplexity exp(mean next-token cross-entropy) over all predicted
  tokens of a set of blocks (the y-axis of the paper's Figure 1a);
* :func:`sequence_perplexities` — one perplexity per block (the histograms of Figure 1b/c;
  the released code scores batches of 16, we score each 64-token sequence);
* :func:`generate_continuations` — for every prompt block, exactly ``new_tokens`` new tokens
  written by 5-beam search with a repetition penalty (or ancestral sampling), as
  ``model.generate(num_beams=5, min_new_tokens=64, max_new_tokens=64,
  repetition_penalty=3.0)`` in the released script.

* :func:`next_token_stats` — the entropy and top-1 mass of the next-token distribution on real
  text (Gambetta et al. 2024: how peaked a model has become).

Any transformers causal LM works: the small OPT trained here, OPT-125m (``paper``), the
SmolLM2-135M Llama model (:mod:`.pretrained`). ``precision="bf16"`` runs training and
generation under CPU/GPU bfloat16 autocast (weights and optimizer state stay float32);
evaluation is always float32. Device: CUDA when available, else CPU (:func:`default_device`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..core.checks import check_sample_size
from ..core.io import atomic_write_bytes, sha256_of

__all__ = [
    "default_device", "build_opt", "pretrained_backbone", "load_model", "state_of",
    "TrainingSettings", "fine_tune", "token_nll", "perplexity", "sequence_perplexities",
    "next_token_stats", "PRECISIONS", "autocast", "model_from_config",
    "Decoding", "generate_continuations", "write_manifest", "verify_manifest",
    "remove_directory", "parameter_count", "load_state",
]


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------- models
def build_opt(tokenizer, hidden_size: int, num_hidden_layers: int, num_attention_heads: int,
              ffn_dim: int, max_position_embeddings: int = 128, dropout: float = 0.1,
              seed: int = 0):
    """A freshly initialised small ``OPTForCausalLM`` for ``tokenizer`` (OPT-125m's
    architecture, scaled down: pre-layer-norm, ReLU, tied input/output embeddings)."""
    from transformers import OPTConfig, OPTForCausalLM

    config = OPTConfig(vocab_size=len(tokenizer), hidden_size=hidden_size,
                       num_hidden_layers=num_hidden_layers, ffn_dim=ffn_dim,
                       num_attention_heads=num_attention_heads,
                       max_position_embeddings=max_position_embeddings,
                       word_embed_proj_dim=hidden_size, dropout=dropout,
                       attention_dropout=0.0, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    return OPTForCausalLM(config)


def pretrained_backbone(name: str):
    """(model, tokenizer) of a pretrained checkpoint on the Hugging Face hub such as
    ``facebook/opt-125m`` (the ``paper`` profile's main arm). Needs the files in the Hugging
    Face cache or network access; not executed on the machines that build this book (the tests
    replace this function). The offline SmolLM2 model is loaded by :mod:`.pretrained`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(name), AutoTokenizer.from_pretrained(name)


def load_model(directory: str | Path, device: torch.device | None = None):
    """The causal language model saved with ``save_pretrained`` in ``directory``."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(directory))
    return model.to(device or default_device())


def model_from_config(config):
    """A causal language model of ``config``'s architecture (weights to be loaded)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(config)


#: numerical precision of training and generation: float32, or bfloat16 autocast
PRECISIONS = ("fp32", "bf16")


def autocast(model, precision: str):
    """Context: bfloat16 autocast on the model's device for ``precision="bf16"`` (2-2.5x
    faster matrix products on a CPU with AVX-512 BF16), nothing for ``"fp32"``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    device = next(model.parameters()).device
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def state_of(model) -> dict[str, np.ndarray]:
    """The model's weights as float32 numpy arrays (picklable, device-free)."""
    return {name: tensor.detach().float().cpu().numpy().copy()
            for name, tensor in model.state_dict().items()}


def load_state(model, state: dict[str, np.ndarray]) -> None:
    """Copy weights produced by :func:`state_of` into ``model`` (in place)."""
    model.load_state_dict({name: torch.from_numpy(array) for name, array in state.items()})


def parameter_count(model) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(parameter.numel() for parameter in model.parameters())


# --------------------------------------------------------------------------- evaluation
@torch.no_grad()
def token_nll(model, blocks: np.ndarray, batch_size: int = 64,
              device: torch.device | None = None) -> np.ndarray:
    """Next-token negative log-likelihood (nats) of every predicted token, shape
    (n_blocks, block_size - 1): entry [i, t] is -log p(blocks[i, t+1] | blocks[i, :t+1])."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(blocks), batch_size):
        batch = torch.as_tensor(np.asarray(blocks[start:start + batch_size]), dtype=torch.long,
                                device=device)
        logits = model(input_ids=batch).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch[:, 1:],
                                                reduction="none")
        out.append(nll.cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, np.shape(blocks)[1] - 1))


def perplexity(model, blocks: np.ndarray, batch_size: int = 64,
               device: torch.device | None = None) -> float:
    """exp(mean next-token cross-entropy over all predicted tokens of ``blocks``) — the
    paper's test perplexity (every block has the same length, so this is also the exp of
    the mean per-block loss)."""
    return float(np.exp(token_nll(model, blocks, batch_size, device).mean()))


def sequence_perplexities(model, blocks: np.ndarray, batch_size: int = 64,
                          device: torch.device | None = None) -> np.ndarray:
    """One perplexity per block, exp(mean NLL of its predicted tokens); shape (n_blocks,)."""
    return np.exp(token_nll(model, blocks, batch_size, device).mean(axis=1))


@torch.no_grad()
def next_token_stats(model, blocks: np.ndarray, batch_size: int = 64) -> dict[str, float]:
    """How peaked the model's next-token distribution is on ``blocks`` (real text), averaged
    over every predicted position: ``entropy`` (nats) and ``top1_mass`` (the probability of
    the most likely token), with the test perplexity of the same pass (``perplexity``).
    Gambetta et al. (2024) follow these across generations of recursive training."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    entropy, top1, nll, count = 0.0, 0.0, 0.0, 0
    for start in range(0, len(blocks), batch_size):
        batch = torch.as_tensor(np.asarray(blocks[start:start + batch_size]), dtype=torch.long,
                                device=device)
        logits = model(input_ids=batch).logits[:, :-1].float()
        log_p = torch.log_softmax(logits, dim=-1)
        entropy += float(-(log_p.exp() * log_p).sum(-1).sum())
        top1 += float(log_p.max(-1).values.exp().sum())
        nll += float(-log_p.gather(-1, batch[:, 1:, None]).sum())
        count += batch[:, 1:].numel()
    model.train(was_training)
    return {"entropy": entropy / count, "top1_mass": top1 / count,
            "perplexity": math.exp(nll / count)}


# --------------------------------------------------------------------------- training
@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How a model is trained on a set of blocks.

    ``schedule``: ``"epoch"`` steps the cosine learning rate once per epoch (the released
    script: ``CosineAnnealingLR(T_max=epochs, eta_min)``; the first epoch runs at ``lr``),
    ``"step"`` anneals it per optimizer step (used to pretrain the small base).
    """

    epochs: int
    lr: float
    eta_min: float
    batch_size: int
    weight_decay: float = 0.0
    schedule: str = "epoch"
    precision: str = "fp32"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {self.precision!r}")
        check_sample_size(self.epochs, "epochs", minimum=1)
        check_sample_size(self.batch_size, "batch_size", minimum=1)
        if not (self.lr > 0 and 0 <= self.eta_min <= self.lr):
            raise ValueError(f"need lr > 0 and 0 <= eta_min <= lr, got lr={self.lr!r}, "
                             f"eta_min={self.eta_min!r}")
        if self.schedule not in ("epoch", "step"):
            raise ValueError(f"schedule must be 'epoch' or 'step', got {self.schedule!r}")


def _cosine(lr: float, eta_min: float, position: int, period: int) -> float:
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * position / max(period, 1))) / 2


def fine_tune(model, blocks: np.ndarray, selection: np.ndarray | None,
              training: TrainingSettings, rng: np.random.Generator,
              eval_batch_size: int = 64,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``model`` in place on ``blocks`` (n, block_size) and keep its best epoch.

    After every epoch the perplexity on the real held-out ``selection`` blocks is measured; at
    the end the weights of the epoch with the lowest one are restored (the released script's
    checkpoint on validation loss). Without ``selection`` the last epoch is kept. Batches are
    shuffled with ``rng``; dropout uses torch's global generator (seeded from ``rng``).
    Returns {"best_epoch" (1-based), "selection_perplexity" per epoch, "tokens_per_second"}.
    """
    device = next(model.parameters()).device
    torch.manual_seed(int(rng.integers(2**31)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr,
                                  weight_decay=training.weight_decay)
    steps_per_epoch = math.ceil(len(blocks) / training.batch_size)
    total_steps = steps_per_epoch * training.epochs
    best, best_state, scores = math.inf, None, []
    tokens, seconds, step = 0, 0.0, 0
    for epoch in range(training.epochs):
        if training.schedule == "epoch":
            for group in optimizer.param_groups:
                group["lr"] = _cosine(training.lr, training.eta_min, epoch, training.epochs)
        model.train()
        order = rng.permutation(len(blocks))
        started = time.perf_counter()
        for start in range(0, len(blocks), training.batch_size):
            if training.schedule == "step":
                for group in optimizer.param_groups:
                    group["lr"] = _cosine(training.lr, training.eta_min, step, total_steps)
            batch = torch.as_tensor(blocks[order[start:start + training.batch_size]],
                                    dtype=torch.long, device=device)
            with autocast(model, training.precision):
                loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += batch.numel()
            step += 1
        seconds += time.perf_counter() - started
        if selection is not None and len(selection):
            score = perplexity(model, selection, eval_batch_size)
            scores.append(score)
            if log:
                log(f"epoch {epoch + 1}: held-out perplexity {score:.2f}")
            if score < best:
                best = score
                best_state = {name: tensor.detach().clone()
                              for name, tensor in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {"best_epoch": int(np.argmin(scores)) + 1 if scores else training.epochs,
            "selection_perplexity": scores,
            "tokens_per_second": tokens / seconds if seconds > 0 else float("nan")}


# --------------------------------------------------------------------------- generation
@dataclasses.dataclass(frozen=True)
class Decoding:
    """How a model writes the next dataset: ``num_beams``-beam search (the paper: 5; 1 =
    greedy) with a ``repetition_penalty`` (their code: 3.0), or ancestral sampling at
    ``temperature`` (``do_sample=True``; ``top_p`` < 1 keeps the smallest set of tokens with
    that much probability, nucleus sampling; no top-k). Exactly ``new_tokens`` tokens are
    written per prompt (min_new_tokens = max_new_tokens). ``precision``: see
    :func:`autocast`."""

    new_tokens: int = 64
    num_beams: int = 5
    repetition_penalty: float = 3.0
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    precision: str = "fp32"

    def __post_init__(self):
        check_sample_size(self.new_tokens, "new_tokens", minimum=1)
        check_sample_size(self.num_beams, "num_beams", minimum=1)
        if not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0 (1.0 = none), "
                             f"got {self.repetition_penalty!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {self.precision!r}")

    def label(self) -> str:
        penalty = "" if self.repetition_penalty == 1 else \
            f", penalty {self.repetition_penalty:g}"
        if self.do_sample:
            nucleus = "" if self.top_p == 1 else f", top-p {self.top_p:g}"
            return f"sampling T={self.temperature:g}{nucleus}{penalty}"
        if self.num_beams == 1:
            return f"greedy{penalty}"
        return f"{self.num_beams}-beam{penalty}"

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``model.generate`` for this decoding."""
        kwargs = dict(min_new_tokens=self.new_tokens, max_new_tokens=self.new_tokens,
                      repetition_penalty=self.repetition_penalty, do_sample=self.do_sample)
        if self.do_sample:
            kwargs.update(num_beams=1, temperature=self.temperature, top_k=0, top_p=self.top_p)
        else:
            kwargs.update(num_beams=self.num_beams)
            if self.num_beams > 1:
                kwargs.update(early_stopping=False)
        return kwargs


@torch.no_grad()
def generate_continuations(model, prompts: np.ndarray, decoding: Decoding,
                           rng: np.random.Generator, batch_size: int = 32) -> tuple[np.ndarray, float]:
    """For every prompt block (n, prompt_len), the ``decoding.new_tokens`` tokens the model
    writes after it: shape (n, new_tokens), int32. Returns (tokens, new tokens per second).

    All prompts have the same length, so no padding is needed; ``min_new_tokens`` forbids the
    end-of-sequence token until exactly ``new_tokens`` tokens are written. Sampling draws from
    torch's global generator, seeded from ``rng``.
    """
    device = next(model.parameters()).device
    model.eval()
    torch.manual_seed(int(rng.integers(2**31)))
    config = model.config
    out = np.empty((len(prompts), decoding.new_tokens), dtype=np.int32)
    started = time.perf_counter()
    for start in range(0, len(prompts), batch_size):
        batch = torch.as_tensor(np.asarray(prompts[start:start + batch_size]), dtype=torch.long,
                                device=device)
        with autocast(model, decoding.precision):
            generated = model.generate(input_ids=batch, attention_mask=torch.ones_like(batch),
                                       pad_token_id=config.pad_token_id,
                                       eos_token_id=config.eos_token_id,
                                       **decoding.generate_kwargs())
        new = generated[:, batch.shape[1]:]
        if new.shape[1] != decoding.new_tokens:
            raise RuntimeError(f"generate() wrote {new.shape[1]} tokens, expected "
                               f"{decoding.new_tokens}")
        out[start:start + len(batch)] = new.cpu().numpy()
    seconds = time.perf_counter() - started
    return out, (out.size / seconds if seconds > 0 else float("nan"))


# --------------------------------------------------------------------------- manifests
def write_manifest(directory: str | Path, exclude: tuple[str, ...] = ("MANIFEST.json",)) -> None:
    """Record the sha256 of every file in ``directory`` in ``MANIFEST.json`` (written last,
    atomically: a directory without a valid manifest is incomplete)."""
    directory = Path(directory)
    digests = {path.name: sha256_of(path) for path in sorted(directory.iterdir())
               if path.is_file() and path.name not in exclude and not path.name.startswith(".")}
    atomic_write_bytes(directory / "MANIFEST.json", json.dumps(digests, indent=1).encode())


def verify_manifest(directory: str | Path) -> bool:
    """True when ``directory`` has a manifest and every file listed matches its sha256."""
    directory = Path(directory)
    try:
        digests = json.loads((directory / "MANIFEST.json").read_text())
        return bool(digests) and all(
            sha256_of(directory / name) == digest
            for name, digest in digests.items())
    except (OSError, ValueError):
        return False


def remove_directory(directory: str | Path) -> None:
    """Delete ``directory`` if it exists (an incomplete or corrupt cache entry)."""
    shutil.rmtree(directory, ignore_errors=True)
