"""The write-up's section on an experiment's wall time (`walltime: true`): the jobs'
fine-tuning seconds beside the paper's, the controlled timing of claim 2 with its noise
floor, and claim 2 by analysis, the update's cost counted from the kernels' code
(adamix.schedules.cost, recorded by the timing)."""

from __future__ import annotations

import pandas as pd

from adamix.report.render import DASH, general, interval, markdown, number, render
from adamix.report.tables import BASELINE, UPDATE_COST, WALLTIME_COLUMNS


def walltime_section(walltime: pd.DataFrame, name: str, epochs: int, figure_link: str) -> str:
    """One experiment's fine-tuning seconds and ratios to Cons+Cons beside the paper's. The
    intervals are those of the geometric means (exp of the t-interval of the mean log:
    positive, as seconds are); the controlled timing's noise floor, how far apart two
    identical Cons+Cons jobs came out (adamix.report.timing), beside its ratios."""
    walltime = walltime.reindex(columns=WALLTIME_COLUMNS)  # a table of before the floor
    shown = pd.DataFrame(
        {
            "reading": walltime["reading"],
            "size": walltime["size"].map(general),
            "run": walltime["run"],
            "ours: seconds, mean": walltime["seconds_mean"].map(number),
            "ours: geometric mean [95% CI]": [
                _positive(r.seconds_gmean, r.seconds_ci95_low, r.seconds_ci95_high)
                for r in walltime.itertuples()
            ],
            f"ours: ratio to {BASELINE}": walltime["ratio_to_cons"].map(number),
            "paper: seconds": walltime["paper_seconds"].map(number),
            f"paper: ratio to {BASELINE}": walltime["paper_ratio_to_cons"].map(number),
            "controlled: ms per step, geometric mean [95% CI]": [
                _positive(r.step_ms_gmean, r.step_ms_ci95_low, r.step_ms_ci95_high)
                for r in walltime.itertuples()
            ],
            f"controlled: ratio to {BASELINE}": walltime["step_ratio_to_cons"].map(number),
            "controlled: noise floor": [
                DASH if pd.isna(x) else f"±{x:.1%}" for x in walltime["step_noise_floor"]
            ],
        }
    )
    return render(
        "walltime.md.j2",
        name=name, epochs=epochs, baseline=BASELINE, link=figure_link, table=markdown(shown),
        analysis=update_costs(walltime),
    )  # fmt: skip


def update_costs(walltime: pd.DataFrame) -> list[dict]:
    """Per run, the update's counted cost (UPDATE_COST) under the first reading that has
    it: streams and flops per weight element, MB and Mflop per step; [] without counts."""
    counted = walltime.dropna(subset=UPDATE_COST)
    if counted.empty:
        return []
    first = counted[counted["reading"] == counted["reading"].iloc[0]]
    return [
        {"reading": r.reading, "run": r.run, "streams": int(r.update_streams),
         "flops": int(r.update_flops), "mb": r.update_mb, "mflops": r.update_mflops}
        for r in first.drop_duplicates("run").itertuples()
    ]  # fmt: skip


def _positive(centre: float, low: float, high: float) -> str:
    """A geometric mean and its interval: "12.30 [10.10, 14.90]" ("12.30" without an
    interval, as from one seed); a dash without a mean."""
    if pd.isna(centre):
        return DASH
    return f"{centre:.2f}" + ("" if pd.isna(low) or pd.isna(high) else " " + interval(low, high))
