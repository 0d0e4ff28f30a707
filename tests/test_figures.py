"""adamix.report.figures: real PNGs of the promised pixel size, non-empty PDFs, and the paper's
epoch-50 values drawn as stars where the reader expects them."""

from __future__ import annotations

import matplotlib.image
import pandas as pd
import pytest
from test_claims import exp1, exp1_seconds, exp5
from test_tables import EXPERIMENTS, metrics, write_parquet

from adamix.report import figures


def stars(ax) -> list[tuple[float, float]]:
    """(x, y) of the star markers drawn on an axis (legend handles are not on it)."""
    return [
        (line.get_xdata()[0], line.get_ydata()[0]) for line in ax.lines if line.get_marker() == "*"
    ]


def test_experiment_figure_png_and_pdf(tmp_path):
    df = metrics(exp1(7.8), epochs=6)
    fig = figures.experiment_figure(df, "exp1", EXPERIMENTS["exp1"], epoch=6)
    assert fig._suptitle.get_text() == "Figure 4 (paper) — exp1"
    (ax,) = fig.axes
    # the paper's epoch-50 values, at our last epoch since we ran fewer than 50
    assert sorted(stars(ax)) == [(6, 7.82), (6, 8.22), (6, 8.37), (6, 8.47)]
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
    assert sorted(stars(left)) == [(50, 3.56), (50, 4.06), (50, 5.06), (50, 7.81)]
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
