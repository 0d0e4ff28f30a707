"""Which version of the numeric code computed a result: a digest of the code's meaning.

A job's params carry ``code_digest`` of the code its numbers come from (rules
pretrain_layer and finetune), so that Snakemake reruns a finished job whose code has
changed (``snakemake -n`` gives the reason "Params have changed since last execution",
with the digest before and now), and every fine-tuning row records it (the metrics'
``code`` column), so that ``publish`` refuses a run whose jobs disagree.

The digest is of the code's syntax tree, not its bytes: comments, docstrings, formatting
and imports do not count, and neither does the file or the order a definition sits in.
Moving a function to another module keeps the digest; changing a number, an operation or
a name that the code uses changes it. ast.unparse's spelling may change with the Python
release, so a new Python can change the digest (and rerun the jobs). No torch here: the
planner imports this module.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent  # workflow/adamix

# The modules whose code computes a stage's numbers. Fine-tuning reads the pre-trained
# layers, so its code includes pre-training's. Not here: what only moves numbers
# (resume state, parquet, logging); a job's data and layer files are its inputs.
PRETRAIN_CODE = ("train/rbm.py", "train/devices.py")
FINETUNE_CODE = (
    *PRETRAIN_CODE,
    "plan/settings.py",  # the optimizer's hyperparameters from the settings
    "train/autoencoder.py",
    "train/finetune.py",
    *(f"schedules/{name}.py" for name in ("kinds", "builtin", "registry", "checks", "sgd")),
    "schedules/fused.py",
)


def code_digest(files: Iterable[str | os.PathLike], package: Path = _PACKAGE) -> str:
    """A short sha256 of the top-level statements of `files` (relative to `package`),
    without docstrings and imports, each as Python writes its syntax tree back
    (ast.unparse: one spelling whatever the formatting), in sorted order."""
    statements = []
    for file in files:
        tree = ast.parse(Path(package, file).read_text(), filename=str(file))
        for node in _without_docstrings(tree).body:
            if not isinstance(node, ast.Import | ast.ImportFrom):
                statements.append(ast.unparse(node))
    return hashlib.sha256("\n".join(sorted(statements)).encode()).hexdigest()[:16]


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree
