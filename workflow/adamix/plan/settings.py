"""The settings of one fine-tuning job: its hyperparameters and its readings of the paper's
ambiguities, listed once.

``FinetuneSettings`` is what config.yaml's ``finetune`` block (merged with a reading's
overrides) becomes. The same object gives the optimizer's arguments (``rule_arguments``),
the key columns of the metrics parquet (adamix.report.metrics) and the identity of a resume
state (adamix.train); the config schema's ``finetune`` block must agree with its fields
(tests/test_config.py checks names, defaults and choices). No torch here.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field


def _choice(default: str, choices: tuple[str, ...], doc: str):
    return field(default=default, metadata={"choices": choices, "doc": doc})


def _number(default, doc: str):
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class FinetuneSettings:
    """Hyperparameters of fine-tuning (paper section 3 and H&S's code) and the readings of
    the paper's ambiguities (docs/paper.md, numbered as there)."""

    epochs: int = _number(50, "fine-tuning epochs; the paper reports RER at 5, 10, ..., 50")
    batch_size: int = _number(100, "minibatch size (H&S)")
    lr: float = _number(0.001, "initial rate eta0 of every rule, weights and biases alike")
    K: float = _number(1.0, "K of eq. 12-16")
    q: float = _number(0.75, "q of eq. 15, 17, 18")
    xi: float = _number(0.999, "xi of eq. 14")
    loss: str = _choice("sse", ("sse", "cross_entropy"), "loss summed over pixels and images")
    timing: str = _choice("current", ("current", "lagged"), "ambiguity 1")
    adadec: str = _choice("paper", ("paper", "decaying"), "ambiguity 2")
    t_unit: str = _choice("step", ("step", "epoch"), "ambiguity 3")
    g_scale: str = field(
        default="sum",
        metadata={"doc": "ambiguity 5: sum, mean (1 / batch_size) or a number s in (0, 1]"},
    )

    update: str = _choice("step", ("step", "epoch"), "ambiguity 6")

    def __post_init__(self):
        # g_scale: a number (0.01, "1.2755e-05") is kept as its shortest spelling, a string
        # like the named scales: one key column of the metrics, one reading per scale
        object.__setattr__(self, "g_scale", g_scale_label(self.g_scale))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            choices = f.metadata.get("choices")
            if f.name == "g_scale":
                continue  # checked by g_scale_label
            if choices is not None:
                ok, expected = value in choices, f"one of {choices}"
            elif f.type == "int":
                ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
                ok, expected = ok and value >= 1, "an integer >= 1"
            else:
                ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
                ok, expected = ok and value >= 0, "a number >= 0"
            if not ok:
                raise ValueError(f"invalid finetune.{f.name}: {value!r}, expected {expected}")

    @classmethod
    def from_mapping(cls, values: Mapping) -> FinetuneSettings:
        """From a config block (and a reading's overrides); unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        if unknown := sorted(set(values) - names):
            raise ValueError(f"unknown finetune settings {unknown}; known: {sorted(names)}")
        return cls(**values)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def scale_of_g(self) -> float:
        """s, the factor of the gradient inside the adaptive denominators (ambiguity 5)."""
        named = {"sum": 1.0, "mean": 1.0 / self.batch_size}
        return named[self.g_scale] if self.g_scale in named else float(self.g_scale)

    def rule_arguments(self, steps_per_epoch: int) -> dict:
        """The learning-rate rules' hyperparameters (adamix.schedules.ScheduledSGD)."""
        return {
            "lr": self.lr,
            "total_steps": self.epochs * steps_per_epoch,
            "K": self.K,
            "q": self.q,
            "xi": self.xi,
            "timing": self.timing,
            "adadec": self.adadec,
            "g_scale": self.scale_of_g(),
            "t_unit": self.t_unit,
            "update": self.update,
            "steps_per_epoch": steps_per_epoch,
        }


def g_scale_label(value) -> str:
    """ "sum", "mean", or the shortest spelling of a number in (0, 1]; ValueError if not."""
    if value in ("sum", "mean"):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not 0 < number <= 1:
        raise ValueError(
            f"invalid finetune.g_scale: {value!r}, expected 'sum', 'mean' or a number in (0, 1]"
        )
    return repr(number)


SETTINGS = tuple(f.name for f in dataclasses.fields(FinetuneSettings))
# What every run reads, whatever its rules: the training loop's own settings. The rest are
# the rules' (adamix.schedules.READABLE), read by those rules that declare them.
TRAINING = ("epochs", "batch_size", "loss")
