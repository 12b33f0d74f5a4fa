"""One family under every data policy, on one yardstick: its drift measure divided by its value
at generation 0.

:class:`FamilyRun` is one family under one policy (values (N + 1, S) of the family's measure);
:class:`FamilyComparison` holds a family's runs and the summaries the chapter reports. "After N
generations" is the median over seeds of the measure averaged over the last ``window``
generations, divided by the median over the same seeds at generation 0 (runs of one family with
the same seed index share their real data and hence generation 0). The fraction of real data
needed is the smallest f of the grid from which on every larger f keeps that ratio within
``tolerance`` of 1.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..core.checks import check_choice
from ..core.policies import Policy, policy_from_name

__all__ = ["FAMILIES", "FamilyMetric", "FAMILY_METRICS", "FIXED_REPLACE_LABEL",
           "GROWING_LABEL", "parse_policy", "policy_label", "FamilyRun", "FamilyComparison",
           "window_for"]

FAMILIES = ("gaussian", "discrete", "gmm", "vae", "language_model")

FIXED_REPLACE_LABEL = "replace, fixed M₀ images"  # the VAE's replace on a fixed sample
GROWING_LABEL = "growing M₀(n+1)"


@dataclasses.dataclass(frozen=True)
class FamilyMetric:
    """A family's drift measure: ``kind`` "error" (lower is better; collapse makes the ratio
    to generation 0 grow) or "level" (a share or spread; collapse makes it fall)."""

    family: str
    name: str
    kind: str


FAMILY_METRICS = {
    "gaussian": FamilyMetric("gaussian", "W2² to the truth", "error"),
    "discrete": FamilyMetric("discrete", "share of the original support alive", "level"),
    "gmm": FamilyMetric("gmm", "L2² to the truth", "error"),
    "vae": FamilyMetric("vae", "latent spread (generation-0 encoder)", "level"),
    "language_model": FamilyMetric("language_model", "test perplexity (small OPT, sampling)",
                                   "error"),
}


def parse_policy(name: str) -> Policy:
    """The policy ``name`` stands for (:func:`collapse.core.policies.policy_from_name`; its
    kind and fraction do not depend on the sample size, so M = 2 stands in for it)."""
    return policy_from_name(name, sample_size=2)


def policy_label(name: str) -> str:
    """The label of policy ``name`` in the chapter (`growing` shows its schedule)."""
    return GROWING_LABEL if name == "growing" else parse_policy(name).label()


def window_for(n_generations: int) -> int:
    """Generations averaged for "after N generations": the last tenth (at least 1)."""
    return max(n_generations // 10, 1)


@dataclasses.dataclass
class FamilyRun:
    """One family under one policy: ``values`` (N + 1, S) of the family's measure, ``policy``
    the name :func:`~collapse.core.policies.policy_from_name` accepts, ``seconds`` the wall
    time of the run (for chains reused from the VAE chapter: theirs)."""

    family: str
    label: str
    policy: str
    values: np.ndarray
    seconds: float

    @property
    def kind(self) -> str:
        """The policy's kind: replace, accumulate, accumulate_subsample, mix_real or growing."""
        return parse_policy(self.policy).name

    @property
    def fraction(self) -> float | None:
        """The real fraction f of a `mix_real(f)` run (None for the other policies)."""
        return getattr(parse_policy(self.policy), "fraction", None)

    @property
    def fixed_sample(self) -> bool:
        """The VAE's replace on a fixed set of M₀ decoded images."""
        return self.label == FIXED_REPLACE_LABEL

    @property
    def n_generations(self) -> int:
        return self.values.shape[0] - 1

    @property
    def n_seeds(self) -> int:
        return self.values.shape[1]


@dataclasses.dataclass
class FamilyComparison:
    """Every policy's run for one family (label -> run), and the summaries the chapter reports."""

    family: str
    runs: dict[str, FamilyRun]
    window: int = 1

    def __post_init__(self):
        check_choice(self.family, FAMILIES, "family")

    @property
    def metric(self) -> FamilyMetric:
        return FAMILY_METRICS[self.family]

    def reference(self, label: str = "replace") -> float:
        """Median over the run's seeds of its generation-0 measure. Runs of one family with
        the same seed index share generation 0, so this is the family's reference taken over
        the seeds the run has (the GMM's pooled runs and the VAE's runs have fewer)."""
        return float(np.median(self.runs[label].values[0]))

    @property
    def n_generations(self) -> int:
        return self.runs["replace"].n_generations

    def normalised(self, label: str) -> np.ndarray:
        """(N+1, S) measure / the run's generation-0 reference."""
        return self.runs[label].values / self.reference(label)

    def ratio(self, label: str, generation: int | None = None) -> float:
        """Median over seeds of the measure averaged over the ``window`` generations ending at
        ``generation`` (default: the last), over the run's generation-0 reference."""
        values = self.runs[label].values
        end = values.shape[0] - 1 if generation is None else int(generation)
        start = max(end - self.window + 1, 0)
        return float(np.median(values[start:end + 1].mean(axis=0)) / self.reference(label))

    def deviation(self, label: str, generation: int | None = None) -> float:
        """|ratio − 1|: how far the policy has moved the measure from generation 0."""
        return abs(self.ratio(label, generation) - 1)

    def fraction_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(fractions (F,), ratio at the last generation (F,)), fraction 0 = replace."""
        fractions = [0.0] + sorted(run.fraction for run in self.runs.values()
                                   if run.kind == "mix_real")
        labels = ["replace"] + [f"mix_real({f:g})" for f in fractions[1:]]
        return np.array(fractions), np.array([self.ratio(label) for label in labels])

    def fraction_needed(self, tolerance: float = 0.1) -> tuple[float | None, float | None]:
        """(f*, the grid point below it): the smallest fraction of the grid from which on every
        larger fraction keeps the ratio within ``tolerance`` of 1; f* is None if even the
        largest fraction fails."""
        fractions, ratios = self.fraction_curve()
        inside = np.abs(ratios - 1) <= tolerance
        if not inside[-1]:
            return None, float(fractions[-1])
        first = len(inside) - 1
        while first > 0 and inside[first - 1]:
            first -= 1
        return float(fractions[first]), (float(fractions[first - 1]) if first > 0 else None)

    def growing_baseline(self) -> str:
        """The run `growing` is compared with: replace with the same M₀ (for the VAE, whose
        replace draws fresh decoder samples for every batch, the fixed-sample replace)."""
        return FIXED_REPLACE_LABEL if FIXED_REPLACE_LABEL in self.runs else "replace"
