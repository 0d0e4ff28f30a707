"""The checks of ScheduledSGD's arguments and of the rates a rule gives: a value no rule
can use is a ValueError that names it, before or at the step that would use it."""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from adamix.schedules import kinds
from adamix.schedules.kinds import Rule
from adamix.schedules.registry import RULES


def _check_hyperparameters(group: dict, rule_required: bool = True) -> None:
    """Raise ValueError, naming the argument, for a value no rule can use."""

    def bad(name: str, expected: str) -> ValueError:
        return ValueError(f"invalid {name}: {group[name]!r}, expected {expected}")

    def is_int(x) -> bool:
        return isinstance(x, numbers.Integral) and not isinstance(x, bool)

    if group["rule"] not in RULES and (rule_required or group["rule"] is not None):
        raise bad("rule", f"one of {tuple(RULES)}")
    if not group["lr"] >= 0:  # `not >=` also catches NaN
        raise bad("lr", "a number >= 0")
    if not is_int(group["total_steps"]) or group["total_steps"] < 1:
        raise bad("total_steps", "an integer >= 1")
    if not group["K"] > 0:
        raise bad("K", "a number > 0")
    if not group["q"] >= 0:
        raise bad("q", "a number >= 0")
    if not 0 <= group["xi"] <= 1:
        raise bad("xi", "a number in [0, 1]")
    if group["timing"] not in kinds.TIMINGS:
        raise bad("timing", f"one of {kinds.TIMINGS}")
    if group["adadec"] not in kinds.ADADEC_FORMS:
        raise bad("adadec", f"one of {kinds.ADADEC_FORMS}")
    if not group["g_scale"] > 0:
        raise bad("g_scale", "a number > 0")
    if group["t_unit"] not in kinds.T_UNITS:
        raise bad("t_unit", f"one of {kinds.T_UNITS}")
    if group["fused"] not in (None, True, False):
        raise bad("fused", "None, True or False")
    if group["capturable"] not in (True, False):
        raise bad("capturable", "True or False")
    if group["capturable"] and group["fused"]:
        raise bad("fused", "not True when capturable (the fused kernels are CPU loops)")
    if group["update"] not in kinds.UPDATES:
        raise bad("update", f"one of {kinds.UPDATES}")
    if group["capturable"] and group["update"] == "epoch":
        raise bad("capturable", 'False when update is "epoch" (its end of an epoch is a branch)')
    if "epoch" in (group["t_unit"], group["update"]):
        spe = group["steps_per_epoch"]
        if not is_int(spe) or spe < 1:
            raise bad("steps_per_epoch", 'an integer >= 1 when t_unit or update is "epoch"')
        if spe > group["total_steps"]:
            raise bad("steps_per_epoch", "at most total_steps (R counts whole epochs)")


def _as_python_numbers(group: dict) -> None:
    """numpy scalars -> int/float, so that torch.load(weights_only=True) takes the state."""
    for key in ("lr", "K", "q", "xi", "g_scale"):
        if key in group:
            group[key] = float(group[key])
    for key in ("total_steps", "steps_per_epoch"):
        if group.get(key) is not None:
            group[key] = int(group[key])


_MAX_RATE = torch.finfo(torch.float32).max  # the parameters' precision: above it, inf


def _checked(rule: Rule, rate, step):
    """`rate` (or c(t)) if it is a number that float32 holds, >= 0; a ValueError naming the
    rule if not. A device tensor (the capturable path) is not read here: it would synchronise; the
    fine-tuning loop checks the rates once per epoch (adamix.train.finetune)."""
    if not isinstance(rate, Tensor) and not 0 <= rate <= _MAX_RATE:
        raise ValueError(
            f"rule {rule.name} gave the rate {rate} at step {step}: a rate must be a finite"
            f" number >= 0 (float32: at most {_MAX_RATE:.3g})"
        )
    return rate
