"""adamix.report.figures: real PNGs of the promised pixel size, non-empty PDFs, and the paper's
epoch-50 values drawn as stars where the reader expects them."""

from __future__ import annotations

import math

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from test_claims import exp1, exp1_seconds, exp5, timing_with_replica
from test_tables import EXPERIMENTS, metrics, write_parquet

from adamix.report import figures, palette


def stars(ax) -> list[tuple[float, float]]:
    """(x, y) of the star markers drawn on an axis (legend handles are not on it)."""
    return [
        (line.get_xdata()[0], line.get_ydata()[0]) for line in ax.lines if line.get_marker() == "*"
    ]


def test_experiment_figure_png_and_pdf(tmp_path):
    df = metrics(exp1(7.8), epochs=6)
    fig = figures.experiment_figure(df, "exp1", EXPERIMENTS["exp1"], epoch=6)
    assert fig._suptitle.get_text() == "exp1: ours (cf. paper fig. 4)"
    (ax,) = fig.axes
    # the paper's epoch-50 values, at our last epoch since we ran fewer than 50, side by
    # side (0.4 epochs apart, centred on it) so that close values do not hide each other
    assert sorted(y for _, y in stars(ax)) == [7.82, 8.22, 8.37, 8.47]
    assert sorted(x for x, _ in stars(ax)) == pytest.approx([5.4, 5.8, 6.2, 6.6])
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert [list(d.get_xdata()) for d in dots] == [[5]] * 4  # epochs 5, 10, ... only
    png, pdf = tmp_path / "exp1.png", tmp_path / "exp1.pdf"
    figures.save_figure(fig, png, pdf)
    assert matplotlib.image.imread(png).shape[:2] == (600, 960)
    assert figures.figure_pixels(fig) == (960, 600)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000


def test_experiment_figure_one_panel_per_reading_and_star_at_50(tmp_path):
    df = pd.concat(
        [
            metrics(exp5(), epochs=50),
            metrics({("AdaMix+Power", 0.1): [8.0, None]}, epochs=50, reading="g_scale-mean"),
        ]
    )  # one diverged seed, and sizes missing on the second reading: still a figure
    exp = {**EXPERIMENTS["exp5"], "readings": ["default", "g_scale-mean"]}
    fig = figures.experiment_figure(df, "exp5", exp)
    left, right = fig.axes
    assert sorted(y for _, y in stars(left)) == [3.56, 4.06, 5.06, 7.81]
    assert all(abs(x - 50) < 1 for x, _ in stars(left))
    assert [t.get_text() for t in left.get_legend().get_texts()][:4] == [
        "size 0.1", "size 0.3", "size 0.6", "size 1",
    ]  # fmt: skip
    png = tmp_path / "exp5.png"
    figures.save_figure(fig, png)
    assert matplotlib.image.imread(png).shape[:2] == (600, 1920)


def test_walltime_figure(tmp_path):
    df = metrics(exp1(7.8), seconds=exp1_seconds(1.1))
    fig = figures.walltime_figure(df, "exp1", EXPERIMENTS["exp1"], epoch=2)
    seconds, ratio = fig.axes
    assert seconds.get_yscale() == "log"
    heights = sorted(round(p.get_height(), 2) for p in ratio.patches if p.get_height())
    assert 1.0 in heights and round(810.20 / 693.54, 2) in heights  # ours and the paper's
    png = tmp_path / "walltime.png"
    figures.save_figure(fig, png)
    assert matplotlib.image.imread(png).shape[:2] == (600, 1920)


def test_walltime_figure_of_an_experiment_the_paper_did_not_time():
    df = metrics(exp1(7.8), seconds=exp1_seconds(1.1))
    fig = figures.walltime_figure(df, "mine", EXPERIMENTS["exp1"], epoch=2)
    _, ratio = fig.axes
    heights = [round(p.get_height(), 2) for p in ratio.patches if p.get_height()]
    assert len(heights) == 4 and 1.0 in heights  # ours only, one bar per run
    assert fig._suptitle.get_text().startswith("Wall time of fine-tuning, mine:")


def test_rule_outputs(tmp_path):
    """write_experiment_figure and write_walltime: the files of rules experiment_figure and
    walltime, from per-job parquet files."""
    inputs = []
    for reading in ("default", "g_scale-mean"):
        inputs.append(tmp_path / f"{reading}.parquet")
        write_parquet(inputs[-1], metrics(exp1(7.8), seconds=exp1_seconds(1.1), reading=reading))
    exp = {**EXPERIMENTS["exp1"], "readings": ["default", "g_scale-mean"]}
    png, pdf = tmp_path / "exp1.png", tmp_path / "exp1.pdf"
    figures.write_experiment_figure(
        inputs, {"png": png, "pdf": pdf}, name="exp1", experiment=exp, epoch=2
    )
    assert matplotlib.image.imread(png).shape[:2] == (600, 1920)  # two readings
    assert pdf.read_bytes().startswith(b"%PDF")
    out = {ext: tmp_path / f"exp1_walltime.{ext}" for ext in ("png", "csv", "md", "html")}
    figures.write_walltime(inputs, out, name="exp1", experiment=exp, epoch=2)
    assert matplotlib.image.imread(out["png"]).shape[:2] == (600, 1920)
    table = pd.read_csv(out["csv"])
    assert list(table["reading"].unique()) == ["default", "g_scale-mean"] and len(table) == 8
    title = "# exp1: fine-tuning wall time, ours (2 epochs) vs the paper (50 epochs)"
    assert out["md"].read_text().startswith(title + "\n")
    assert "<table" in out["html"].read_text()


@pytest.mark.parametrize("epoch", [None, 2])
def test_experiment_figure_without_data_for_a_reading(tmp_path, epoch):
    df = metrics(exp1(7.8, n=1))
    exp = {**EXPERIMENTS["exp1"], "readings": ["default", "absent"]}
    fig = figures.experiment_figure(df, "exp1", exp, epoch=epoch)
    assert len(stars(fig.axes[1])) == 4  # the paper's values, even with no data of ours


def test_five_readings_wrap_into_rows_of_three():
    readings = ["default", "g_scale-mean", "timing-lagged", "adadec-decaying", "t_unit-epoch"]
    df = pd.concat([metrics(exp1(7.8), epochs=6, reading=r) for r in readings])
    fig = figures.experiment_figure(df, "exp1", {**EXPERIMENTS["exp1"], "readings": readings})
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [f"reading: {r}" for r in readings]
    assert len(fig.axes) == 6 and figures.figure_pixels(fig) == (3 * 960, 2 * 600)


def test_a_rule_has_one_colour_in_every_figure():
    # exp1 draws AdaMix+Power, exp3 AdaMix+Cons, exp4 Cons+AdaMix: one colour, AdaMix's;
    # a bias rule's line is dashed
    lines = {}
    for name in ("exp1", "exp3"):
        exp = {**EXPERIMENTS[name], "runs": ["Cons+Cons", "AdaMix+Power" if name == "exp1"
                                             else "AdaMix+Cons"]}  # fmt: skip
        fig = figures.experiment_figure(metrics({(r, 0.1): [8.0, 8.1] for r in exp["runs"]}),
                                        name, exp)  # fmt: skip
        legend = fig.axes[0].get_legend()
        lines |= {t.get_text(): h for t, h in zip(legend.get_texts(), legend.legend_handles,
                                                   strict=True)}  # fmt: skip
    assert lines["AdaMix+Power"].get_color() == lines["AdaMix+Cons"].get_color() == "#d55e00"
    assert lines["Cons+Cons"].get_color() == "#0173b2"
    assert palette.run_style("Cons+AdaMix") == {"color": "#d55e00", "linestyle": "--"}
    assert palette.run_style("Cons+None")["linestyle"] == "--"  # not None+Cons's solid line
    # a plug-in's rule: a colour of its own, the same every time
    assert palette.rule_colour("RMS") == palette.rule_colour("RMS") in palette.OTHER_COLOURS


def test_more_data_is_coloured_by_size_and_styled_by_run():
    exp = EXPERIMENTS["exp5"]
    fig = figures.experiment_figure(metrics(exp5(), epochs=50), "exp5",
                                    {**exp, "runs": ["AdaMix+Power", "Cons+Cons"]})  # fmt: skip
    handles = fig.axes[0].get_legend().legend_handles
    sizes = len(exp["sizes"])
    adamix, cons = handles[:sizes], handles[sizes : 2 * sizes]
    assert [h.get_color() for h in adamix] == [h.get_color() for h in cons]
    assert len({h.get_color() for h in adamix}) == sizes
    assert {h.get_linestyle() for h in adamix} == {"-"} and {h.get_linestyle() for h in cons} == {
        "--"
    }


def test_the_sensitivity_figure_marks_a_diverged_rate():
    from adamix.report.tuning import sensitivity_figure

    rows = [
        {"reading": "default", "run": run, "rate": rate, "val_rer": rer}
        for run, rers in {"Cons+Cons": [9.0, 8.0, 8.5], "Adam+Adam": [8.0, 7.0, math.inf]}.items()
        for rate, rer in zip([1e-4, 1e-3, 1e-2], rers, strict=True)
    ]
    (ax,) = sensitivity_figure(pd.DataFrame(rows)).axes
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert [(c.get_xdata()[0], c.get_color()) for c in crosses] == [(1e-2, "#000000")]  # Adam


def test_walltime_figure_with_the_controlled_timing(tmp_path):
    df = metrics(exp1(7.8), seconds=exp1_seconds(1.1))
    timing = pd.concat([timing_with_replica(0.1, 0.1), timing_with_replica(0.2, 0.2, "mean")])
    exp = {**EXPERIMENTS["exp1"], "readings": ["default", "mean"]}
    fig = figures.walltime_figure(df, "exp1", exp, epoch=2, timing=timing)
    _, _, ms, ratio = fig.axes
    # one point per reading and run, at the geometric mean over the rounds: AdaMix+Power
    # 10 ms x loads 1, 1.3, 1 -> 10 x 1.3^(1/3) ms; over Cons+Cons (8 ms) 1.25 every round,
    # AdaGrad+AdaGrad's e^0.1 (e^0.2) above that
    points = {
        line.get_color(): line.get_ydata()
        for line in ms.lines
        if line.get_marker() == "o" and len(line.get_ydata())
    }
    assert points[palette.run_style("AdaMix+Power")["color"]] == pytest.approx(
        [10 * 1.3 ** (1 / 3)] * 2
    )
    ratios = {
        line.get_color(): line.get_ydata()
        for line in ratio.lines
        if line.get_marker() == "o" and len(line.get_ydata())
    }
    assert ratios[palette.run_style("AdaMix+Power")["color"]] == pytest.approx([1.25, 1.25])
    assert ratios[palette.run_style("AdaGrad+AdaGrad")["color"]] == pytest.approx(
        [1.25 * np.exp(0.1), 1.25 * np.exp(0.2)]
    )
    # the noise floor band: 1/(1 + 4.586%) to 1 + 4.586%, named in the legend
    (band,) = ratio.patches
    low, high = band.get_y(), band.get_y() + band.get_height()
    assert (low, high) == pytest.approx((1 / 1.045862, 1.045862), abs=1e-6)
    assert "noise floor ±4.6%" in [t.get_text() for t in fig.legends[-1].get_texts()]
    # the bars of ours and the paper's seconds are grey: no bar takes a rule's colour
    bars = {tuple(bar.get_facecolor()[:3]) for bar in fig.axes[0].patches}
    assert len(bars) == 2 and all(r == g == b for r, g, b in bars)  # ours, the paper
    png = tmp_path / "walltime.png"
    figures.save_figure(fig, png)
    assert matplotlib.image.imread(png).shape[:2] == (1200, 1920)  # a second row
    # a timing without the replica: no band, and the title says so
    bare = timing.query("not replica").drop(columns="replica")
    fig = figures.walltime_figure(df, "exp1", exp, epoch=2, timing=bare)
    assert not fig.axes[3].patches and "no noise floor" in fig.axes[3].get_title()
