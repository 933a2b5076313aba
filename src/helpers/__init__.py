"""Helpers for the few-shot citation-screening report.

Modules, one job each (see the README's architecture section): config (project root, run
modes), data (reviews), fewshot (split, pairs), encoder (load, pool, cached embed),
contrastive (the study's loss, LoRA, phase 1), compress, compose, metrics (AWSS/WSS),
results (the results table), experiment (trials, variants, sweeps), distributed (in-process
or Dask), peers, stats, space, plots, bench, fetch, screen, report (papermill runner, book).
"""

import os

# The one place offline mode is set: models and data are never downloaded from a hub at run
# time (a user who wants that sets HF_HUB_OFFLINE=0 before importing the package).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.2.0"
