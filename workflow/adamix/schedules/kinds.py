"""The kinds of learning-rate rule, as data: what a rule specifies, not how a step applies it.

Every rule is plain SGD, theta <- theta - eta * g; only the rate eta differs. A
``ScalarRule`` gives one rate shared by the whole parameter group, a function of the step;
an ``AdaptiveRule`` gives one rate per element, c(t) * factor, from per-parameter state; a
``TorchRule`` is one of torch.optim's optimizers. A rule is one small specification of one
of these kinds, registered under its name (adamix.schedules.registry); the optimizer
(adamix.schedules.sgd) applies it by its kind and knows no rule by name. Each rule
declares the settings it ``reads``: two jobs that differ only in settings their rules do
not read compute the same.

The readings of the paper's ambiguities (docs/paper.md) are the optimizer's arguments,
defaults first:

- ``timing`` (ambiguity 1): "current" folds g(t) into the rate that step t applies;
  "lagged" applies the rate built from g(0..t-1) and folds g(t) in afterwards, so the first
  step applies eta0/sqrt(K) (AdaGrad), eta0 (AdaMix), p(0)/sqrt(K) (AdaDec); K = 1 in the
  paper, where these are eta0 and p(0).
- ``adadec`` (ambiguity 2): "paper", eq. 14, G(t) = xi (s g(t-1))^2 + (s g(t))^2 with
  g(-1) = 0; "decaying" (Senior et al.), G(t) = xi G(t-1) + (s g(t))^2 with G(-1) = 0.
- ``t_unit`` (ambiguity 3): "step" counts optimizer steps; "epoch" makes the rules' t and R
  count epochs: t = step // steps_per_epoch and R = total_steps // steps_per_epoch.
- ``g_scale`` (ambiguity 5): s scales g inside the adaptive denominators only ("sum" is
  s = 1, "mean" is s = 1 / batch size); the update always uses the raw gradient.
- ``update`` (ambiguity 6): when an adaptive rule's state takes the gradient. "step": at
  every step, g(t) the minibatch gradient. "epoch" (the paper's "round" read as an epoch):
  the state, and with it the per-element factor, stays fixed for a whole epoch; at the
  epoch's end it takes g = the sum of that epoch's minibatch gradients (the gradient of
  the epoch's summed loss) once, for the next epoch. ``timing`` has no effect there: an
  epoch's rate is always built from the epochs before it. c(t) still follows the step.

This module imports no torch (tensors appear in type hints only): the registry, and with
it every Snakemake start, reads the rules' declarations without loading torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor
    from torch.optim import Optimizer

TIMINGS = ("current", "lagged")
ADADEC_FORMS = ("paper", "decaying")
T_UNITS = ("step", "epoch")
UPDATES = ("step", "epoch")
# What a rule may read (``reads``): the optimizer's hyperparameters of adamix.plan.settings.
READABLE = ("lr", "K", "q", "xi", "timing", "adadec", "t_unit", "g_scale", "update")


@dataclass(frozen=True)
class ScalarRule:
    """A rule that gives the whole group one rate: ``rate(h, t, R)``, with ``h`` the
    group's hyperparameters (h["lr"] is eta0, h["q"], h["K"] ...) and t, R the step and
    the total number of steps, counted in the unit of ``t_unit`` (list "t_unit" in
    ``reads`` when the rate depends on t). A rate of 0 leaves the parameters as they are."""

    name: str
    rate: Callable[[dict, int, int], float]
    reads: tuple[str, ...]
    doc: str = ""

    stateful = False
    PARTS = ("rate",)  # what must be a function

    def scalar(self, group: dict, step: int) -> float:
        """The rate at step index ``step``, as a Python float."""
        t, R = schedule_time(group, step)
        return float(self.rate(group, t, R))


@dataclass(frozen=True)
class AdaptiveRule:
    """A rule with one rate per element, rate = c(t) * factor, the factor made from
    per-parameter state (torch tensors shaped like the parameter):

    - ``scale(h, step)``: c(t), one number per step (h: the group's hyperparameters);
    - ``init(h, p)``: the state before the first gradient, a dict of tensors;
    - ``fold(h, states, grads, scratch)``: fold g(t) into every parameter's state, in place,
      with torch ops (any device); ``scratch`` holds one free tensor per parameter;
    - ``factor(h, state, out)``: the factor the state gives (computed into ``out`` if it
      is not kept in the state);
    - ``no_state_factor(h)``: the factor of an element that never had a gradient;
    - ``kernel`` (optional): the fused CPU path, ``kernel(fused, h, c, p, P, G, state,
      lagged)`` with flat numpy views P, G and ``state_keys(h)`` of the state, in order.

    A step applies c * factor * g before folding g(t) in ("lagged") or after ("current").
    """

    name: str
    reads: tuple[str, ...]
    scale: Callable[[dict, int], float]
    init: Callable[[dict, Tensor], dict]
    fold: Callable[[dict, list[dict], list[Tensor], list[Tensor]], None]
    factor: Callable[[dict, dict, Tensor | None], Tensor]
    no_state_factor: Callable[[dict], float]
    kernel: Callable | None = None
    state_keys: Callable[[dict], tuple[str, ...]] | None = None
    doc: str = ""

    stateful = True
    PARTS = ("scale", "init", "fold", "factor", "no_state_factor")


@dataclass(frozen=True)
class TorchRule:
    """A rule that is one of torch.optim's optimizers, not rewritten: ``make(params, h)``
    builds it for the group's parameters (h: the group's hyperparameters; h["lr"] its
    rate). Its per-parameter state is the ScheduledSGD's own, so ``state_dict()`` saves it
    and a resumed run continues bit for bit. Its rate statistics are the nominal rate
    eta0: the per-element rate of such an optimizer has no closed form here.
    ``library_lr``: the library's own default rate, the tuning's one-shot comparison."""

    name: str
    make: Callable[[list[Tensor], dict], Optimizer]
    reads: tuple[str, ...] = ("lr",)
    doc: str = ""
    library_lr: float | None = None

    stateful = False  # the inner optimizer makes its state
    PARTS = ("make",)


Rule = ScalarRule | AdaptiveRule | TorchRule


def schedule_time(group: dict, step: int) -> tuple[int, int]:
    """(t, R) in the unit the schedules count in: optimizer steps or epochs."""
    if group["t_unit"] == "epoch":
        spe = group["steps_per_epoch"]
        return step // spe, group["total_steps"] // spe
    return step, group["total_steps"]
