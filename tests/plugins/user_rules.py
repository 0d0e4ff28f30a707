"""Two learning-rate rules of a user's own, registered from this file (config `plugins`)."""

import torch

from adamix.schedules import AdaptiveRule, ScalarRule, register

# One rate for the group: eta0, halved every quarter of the training.
register(
    ScalarRule("Halving", lambda h, t, R: h["lr"] * 0.5 ** (4 * t // R), reads=("lr", "t_unit"))
)


# One rate per element: eta0 / sqrt(K + v), v a running mean of (s g)^2 with weight xi.
def fold(h, states, grads, scratch):
    for state, g in zip(states, grads, strict=True):
        state["v"].mul_(h["xi"]).addcmul_(g, g, value=(1 - h["xi"]) * h["g_scale"] ** 2)


register(
    AdaptiveRule(
        "RMS",
        reads=("lr", "K", "xi", "timing", "g_scale"),
        scale=lambda h, step: h["lr"],  # rate = scale * factor
        init=lambda h, p: {"v": torch.zeros_like(p)},  # state before the first gradient
        fold=fold,  # g(t) into the state
        factor=lambda h, state, out: torch.rsqrt(torch.add(state["v"], h["K"], out=out), out=out),
        no_state_factor=lambda h: h["K"] ** -0.5,
    )
)
