"""The write-up's sections beyond the paper's own study: the tuned comparison and the
experiments on another data set. Numbers and tables here, prose in their templates
(adamix/report/templates/tuning.md.j2, dataset.md.j2)."""

from __future__ import annotations

import pandas as pd

from adamix.report.render import DASH, general, interval, markdown, ours, render, signed


def tuning_section(table: pd.DataFrame, tuning: dict, figure_links: list[str]) -> str:
    """The tuned comparison (results/tables/tuning.csv): each run at the rate its search
    chose, on the test set; `tuning`: the config's tuning block."""
    shown = pd.DataFrame(
        {
            "reading": table["reading"],
            "run": table["run"],
            "rate": [
                f"{r:g}" + (" (edge)" if edge else "") + (" (library)" if c == "library" else "")
                for r, edge, c in zip(table["rate"], table["edge"], table["choice"], strict=True)
            ],
            "ours: mean [95% CI]": table.apply(ours, axis=1),
            "rank": [DASH if pd.isna(r) else f"{int(r)}" for r in table["rank"]],
            "− AdaMix+Power": [
                DASH if pd.isna(d) else f"{signed(d)} {interval(lo, hi)}"
                for d, lo, hi in zip(table["diff_vs_AdaMix+Power"], table["diff_ci95_low"],
                                     table["diff_ci95_high"], strict=True)
            ],
        }
    )  # fmt: skip
    return render("tuning.md.j2", tuning=tuning, links=figure_links, table=markdown(shown))


def dataset_section(
    dataset: str, table: pd.DataFrame, claims: pd.DataFrame, experiments: dict, links: dict
) -> str:
    """The experiments on a data set the paper did not use: per experiment its figure and
    our final-epoch RER under each reading, then the verdicts on the claims there."""
    parts = []
    for name, exp in experiments.items():
        rows = table[table["experiment"] == name]
        shown = rows.assign(cell=rows.apply(ours, axis=1)).pivot_table(
            index=["run", "size"], columns="reading", values="cell", aggfunc="first", sort=False
        )
        shown = shown.reindex(columns=exp["readings"]).fillna(DASH).reset_index()
        shown = shown.assign(size=shown["size"].map(general))
        shown.columns.name = None
        parts.append(
            {"name": name, "figure": exp["figure"] if "figure" in exp else None,
             "link": links[name], "table": markdown(shown)}
        )  # fmt: skip
    verdicts = claims.assign(claim=claims["claim"].astype(str))
    columns = ["claim", "statement", "experiment", "reading", "sizes", "verdict"]
    return render(
        "dataset.md.j2",
        dataset=dataset,
        experiments=parts,
        claims=list(verdicts.itertuples()),
        claims_table=markdown(verdicts[columns]) if not claims.empty else None,
    )
