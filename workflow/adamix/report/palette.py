"""One colour per learning-rate rule in every figure (colour-blind safe: seaborn's
"colorblind" palette, Okabe-Ito-like), so that a reader who learns AdaMix's colour in one
figure finds it in the next.

A run is drawn in the colour of the rule that sets it apart: its weight rule, or its bias
rule when the weights take the constant rate and the biases do not (experiment 4). The
line style says which: solid for a weight rule, dashed for a bias rule. A rule the
palette does not know (a plug-in's) takes a colour from its name, the same every time.
"""

from __future__ import annotations

import hashlib

RULE_COLOURS = {
    "Cons": "#0173b2",  # blue
    "AdaGrad": "#de8f05",  # orange
    "AdaDec": "#029e73",  # green
    "AdaMix": "#d55e00",  # vermillion
    "Exp": "#cc78bc",  # pink
    "Power": "#ca9161",  # tan
    "None": "#949494",  # grey
    "Momentum": "#56b4e9",  # sky blue
    "Nesterov": "#ece133",  # yellow
    "Adam": "#000000",  # black
    "RMSprop": "#fbafe4",  # light pink
}
# For the rules of plug-ins: darker tones, distinct from the palette above.
OTHER_COLOURS = ("#004d80", "#8c5a00", "#00664a", "#8f3f00", "#7a3f73", "#6b4e2e")


def rule_colour(rule: str) -> str:
    """The colour of a rule: its own, or one chosen by a digest of its name."""
    if rule in RULE_COLOURS:
        return RULE_COLOURS[rule]
    digest = int(hashlib.sha256(rule.encode()).hexdigest(), 16)
    return OTHER_COLOURS[digest % len(OTHER_COLOURS)]


def run_style(run: str) -> dict:
    """matplotlib's color and linestyle of a Weight+Bias run."""
    weight, bias = run.split("+")
    if weight == "Cons" and bias != "Cons":
        return {"color": rule_colour(bias), "linestyle": "--"}
    return {"color": rule_colour(weight), "linestyle": "-"}


def run_colours(runs) -> dict[str, str]:
    """{run: colour} for seaborn's palette argument."""
    return {run: run_style(run)["color"] for run in runs}
