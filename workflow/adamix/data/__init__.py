"""The data sets: download (mirrors, offline copies, IDX) and nested subsets."""

from adamix.data.download import *  # noqa: F403  (skeleton; split follows)
from adamix.data.download import FASHION_DEB, FASHION_FILES, MNIST_FILES  # noqa: F401
