"""AdaMix reproduction (He & Li 2016): the numerics behind the Snakemake pipeline.

One subpackage per stage, each imported only by the stages after it:

- ``plan``: config typing and checks, fine-tuning settings, cells and jobs, every path
  (no torch: the Snakefile imports it on every start, with ``schedules.registry``);
- ``data``: download (mirrors, offline copies, IDX files) and nested class-stratified subsets;
- ``schedules``: the learning-rate rules (kinds, built-ins, registry, plug-ins) and the
  optimizer that applies them (``sgd``, with its fused CPU kernels);
- ``train``: RBM pre-training, the unrolled autoencoder, fine-tuning, resume states, the
  controlled step timing of claim 2;
- ``report``: metrics parquet, statistics, the paper's numbers, claims, tables, figures,
  the tuned comparison and the write-up (no torch).

``atomic`` and ``joblog`` are the jobs' small shared helpers, ``provenance`` the digest of
the numeric code that every job records; ``bench`` is a developer CLI that nothing imports.
"""
