"""The per-epoch metrics table of a fine-tuning job: its parquet schema, reading and checks.

No torch here: aggregation (tables, figures, the write-up) reads metrics without loading a
deep-learning framework. RER is recorded on two scales (see
``adamix.train.autoencoder.reconstruction_error``): ``rer_sse``, the per-image sum of squared
errors over the pixels (the paper's scale), and ``rer_mse`` (= rer_sse / pixels).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from adamix.atomic import atomic, sha256_of
from adamix.plan.cells import tuning_reading
from adamix.plan.settings import FinetuneSettings

# The columns that identify a job: its keys, then every setting of adamix.plan.settings.
JOB_FIELDS = [
    pa.field("dataset", pa.string(), nullable=False),  # a key of the config's datasets
    pa.field("reading", pa.string(), nullable=False),  # name of the ambiguity reading
    pa.field("weight_rule", pa.string(), nullable=False),
    pa.field("bias_rule", pa.string(), nullable=False),
    pa.field("size", pa.float64(), nullable=False),  # fraction of the dataset, e.g. 0.1
    pa.field("seed", pa.int64(), nullable=False),
]
_ARROW = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}
SETTING_FIELDS = [
    pa.field(f.name, _ARROW[f.type], nullable=False) for f in dataclasses.fields(FinetuneSettings)
]

# One row per fine-tuning epoch (epoch 0 = before fine-tuning). Every job writes
# exactly this schema, so aggregation is a plain concatenation.
FINETUNE_SCHEMA = pa.schema(
    [
        *JOB_FIELDS,
        *SETTING_FIELDS,
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("step", pa.int64(), nullable=False),  # optimizer steps so far
        pa.field("train_rer_sse", pa.float64()),
        pa.field("test_rer_sse", pa.float64()),
        pa.field("train_rer_mse", pa.float64()),
        pa.field("test_rer_mse", pa.float64()),
        # on the validation split (adamix.data.make_subset; null without one): the
        # tuning's selection reads these, never the test set's
        pa.field("val_rer_sse", pa.float64()),
        pa.field("val_rer_mse", pa.float64()),
        pa.field("epoch_seconds", pa.float64(), nullable=False),  # training time of this epoch
        pa.field("cumulative_seconds", pa.float64(), nullable=False),
        *(  # lr_weight_mean, lr_weight_min, lr_weight_max, then the same of the biases
            pa.field(f"lr_{group}_{stat}", pa.float64())
            for group in ("weight", "bias")
            for stat in ("mean", "min", "max")
        ),
        pa.field("grad_norm", pa.float64()),  # L2 norm of the last minibatch gradient
        pa.field("diverged", pa.bool_(), nullable=False),
        pa.field("device", pa.string(), nullable=False),  # torch device, e.g. "cuda:0"
        pa.field("device_name", pa.string(), nullable=False),  # GPU or CPU model
        pa.field("torch_version", pa.string(), nullable=False),
        # digest of the numeric code that computed the row (adamix.provenance)
        pa.field("code", pa.string(), nullable=False),
        pa.field("finished_at", pa.float64(), nullable=False),  # Unix time the row was made
    ]
)


def read_metrics(paths: Iterable[str | Path]) -> pa.Table:
    """Concatenate per-job parquet files; each must have exactly FINETUNE_SCHEMA."""
    tables = []
    for path in paths:
        table = pq.ParquetFile(path).read()
        if not table.schema.equals(FINETUNE_SCHEMA):  # field metadata is not compared
            raise ValueError(
                f"{path}: not the schema of adamix.report.metrics.FINETUNE_SCHEMA "
                f"({_schema_difference(table.schema)})"
            )
        tables.append(table)
    return pa.concat_tables(tables) if tables else FINETUNE_SCHEMA.empty_table()


def load_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The per-epoch metrics of many jobs as one DataFrame (see read_metrics)."""
    return read_metrics(paths).to_pandas()


def _schema_difference(schema: pa.Schema) -> str:
    expected = {f.name: f for f in FINETUNE_SCHEMA}
    got = {f.name: f for f in schema}
    parts = []
    if missing := [name for name in expected if name not in got]:
        parts.append(f"missing columns {missing}")
    if extra := [name for name in got if name not in expected]:
        parts.append(f"unexpected columns {extra}")
    for name, field in expected.items():
        if name in got and not got[name].equals(field):
            parts.append(f"{name}: {_describe(got[name])} instead of {_describe(field)}")
    return "; ".join(parts) or "columns in another order"


def _describe(field: pa.Field) -> str:
    return f"{field.type}{'' if field.nullable else ' not null'}"


def write_metrics(rows: list[dict], path: str | Path) -> None:
    """Write a job's rows as a parquet of FINETUNE_SCHEMA, atomically: a temporary file
    beside it, then renamed, so a kill leaves no half-written parquet."""
    with atomic(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=FINETUNE_SCHEMA), tmp)


# ------------------------------------------------------------------ the published reference

# What the published reference keeps of each epoch row (docs/reference/metrics.parquet):
# the job's keys, its role in the study and initial rate, and the numbers a reproduction
# compares, RER in float32 (7 digits).
REFERENCE_KEYS = [f.name for f in JOB_FIELDS]
REFERENCE_VALUES = ["epoch", "train_rer_sse", "test_rer_sse", "val_rer_sse", "cumulative_seconds"]
# role: "experiment" (a cell of the experiments, results/metrics.parquet), "tuned" (a run
# rerun at the rate its search chose, reading default~lr0.003), "library" (a one-shot run
# at its library's rate, default~library), "search" (a job of the tuning's search, one per
# reading, run and rate, at tuning.search_seed; judged on the validation split), "added"
# (a job of a seed that `decide` added beyond config `seeds`, under its job's reading;
# the primary analysis's). lr: the
# initial rate of the job, weights and biases alike (FinetuneSettings.lr). Both are absent
# from a reference written before they were kept.
REFERENCE_ROLE = ["role", "lr"]
# The weights' learning rates at each epoch's end (mean and smallest over the weights),
# which the discussion cites for AdaMix's collapse; float32, kept where given.
REFERENCE_RATES = ["lr_weight_mean", "lr_weight_min"]


def write_reference(
    inputs: Iterable[str | Path],
    out: str | Path,
    search: Iterable[tuple[str | Path, Sequence]] = (),
    added: Iterable[str | Path] = (),
) -> pd.DataFrame:
    """The compact per-epoch metrics of a run (gathered parquets `inputs`: every cell, as
    the tables read them; `search`: the tuning's search jobs, each (parquet, [reading, run,
    rate]) as adamix.plan.cells.Search lists them; `added`: the fine-tuning parquets of the
    seeds that `decide` added), each (cell, role, seed, epoch) once,
    written atomically to `out`: the reference a later run is compared with (rule publish;
    adamix.report.tables.reference_table)."""
    cells = load_metrics(inputs)
    parts = [cells.assign(role=reference_role(cells["reading"]))]
    parts += [search_rows(path, *cell) for path, cell in search]
    parts += [load_metrics([path]).assign(role="added") for path in added]
    return save_reference(pd.concat(parts, ignore_index=True), out)


def search_rows(path: str | Path, reading: str, run: str, rate: float) -> pd.DataFrame:
    """The rows of one search job (`run` under `reading` at `rate`) as the reference keeps
    them: role "search", named by the reading of the rate (tuning_reading: default~lr0.01)
    even where the job ran under an equivalent one (default, whose rate is the grid's);
    ValueError if the parquet is not that run at that rate."""
    df = load_metrics([path])
    ran = set(df["weight_rule"] + "+" + df["bias_rule"]), set(df["lr"])
    if ran != ({run}, {float(rate)}):
        raise ValueError(f"{path}: not the search job of {run} at rate {rate:g} (ran {ran})")
    return df.assign(reading=tuning_reading(reading, rate), role="search")


def reference_role(reading: pd.Series) -> pd.Series:
    """The role of gathered rows (not the search's) by their reading's name: "tuned" for a
    tuning reading (adamix.plan.cells.tuning_reading: default~lr0.003), "library" for a
    one-shot one (oneshot_reading: default~library), "experiment" otherwise."""
    tuned, library = reading.str.contains("~lr", regex=False), reading.str.endswith("~library")
    role = np.select([tuned, library], ["tuned", "library"], "experiment")
    return pd.Series(role, index=reading.index, dtype=reading.dtype)  # str as read


def save_reference(df: pd.DataFrame, out: str | Path) -> pd.DataFrame:
    """Write per-epoch rows (at least the reference's keys and values) as a reference: each
    (cell, role, seed, epoch) once, RER and rates in float32, atomically, with its sha256
    beside it. A search job that is also a tuned rerun (search seed among the seeds) keeps
    both rows. Rows without a role get it from their reading (reference_role); lr and
    REFERENCE_RATES are kept if given."""
    if "role" not in df:
        df = df.assign(role=reference_role(df["reading"]))
    kept = [c for c in REFERENCE_ROLE if c in df]
    rates = [c for c in REFERENCE_RATES if c in df]
    df = df[[*REFERENCE_KEYS, *kept, *REFERENCE_VALUES, *rates, "diverged"]]
    df = df.drop_duplicates([*REFERENCE_KEYS, "role", "epoch"]).reset_index(drop=True)
    df = df.astype(
        dict.fromkeys([c for c in REFERENCE_VALUES if c.endswith("_sse")] + rates, "float32")
    )
    with atomic(out) as tmp:
        df.to_parquet(tmp, index=False, compression="zstd")
    with atomic(f"{out}.sha256") as tmp:  # `sha256sum -c` reads it
        tmp.write_text(f"{sha256_of(out)}  {Path(out).name}\n")
    return df


def load_reference(path: str | Path, search: bool = False, added: bool = False) -> pd.DataFrame:
    """A reference written by write_reference, checked against the sha256 written beside
    it; ValueError naming the file if it is missing, changed or lacks a column. Without
    `search`, the rows of the tuning's search are left out: every cell and seed as the
    tables read them, so the search's one seed never counts as a tuned run's. Without
    `added`, the seeds that `decide` added are left out: every cell at config `seeds`."""
    restore = (
        "restore it (`git checkout -- docs/reference/` for the published one) or write it"
        " again with `snakemake publish`"
    )
    if not Path(path).is_file():
        raise ValueError(
            f"{path}: no published reference; `snakemake publish` writes it from the full"
            " default study"
        )
    sidecar = Path(f"{path}.sha256")
    if not sidecar.is_file():
        raise ValueError(f"{sidecar}: missing, so {path} cannot be checked; {restore}")
    expected, actual = (sidecar.read_text().split() or [""])[0], sha256_of(path)
    if actual != expected:
        raise ValueError(
            f"{path}: its sha256 is not the one {sidecar.name} holds, so the file is corrupt"
            f" or was changed; {restore}"
        )
    df = pd.read_parquet(path)
    if missing := [c for c in [*REFERENCE_KEYS, *REFERENCE_VALUES, "diverged"] if c not in df]:
        raise ValueError(f"{path}: not a reference of adamix.report.metrics (missing {missing})")
    if "role" in df:
        left_out = [role for role, asked in (("search", search), ("added", added)) if not asked]
        df = df[~df["role"].isin(left_out)].reset_index(drop=True)
    return df
