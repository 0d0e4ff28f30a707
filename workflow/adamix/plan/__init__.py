"""The study's plan, light on purpose (yaml only, no torch): the only part of adamix the
Snakefile needs besides the rule registry.

- ``config``: schema typing, cross-checks, publishability, pre-training readings;
- ``settings``: FinetuneSettings, the one list of fine-tuning settings and their choices;
- ``cells``: Cell/Job/Search records, the readings and job_reading (each distinct run once);
- ``paths``: every results/, logs/ and docs/ path template, written once;
- ``study``: Plan, every cell, job, target and rule input of a config (common.smk's answers);
- ``decide``: the primary hypotheses and the jobs of each look (seeds until decided).
"""
