"""ttc: where inference compute substitutes for parameters.

The science behind the book: the task, the model family, sampling, verifiers, search,
revisions, metrics, FLOPs accounting and plots. Import submodules directly
(``from ttc import flops``); importing ``ttc`` itself loads nothing heavy.
"""

__version__ = "0.1.0"
