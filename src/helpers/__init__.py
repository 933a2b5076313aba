"""Helpers for the few-shot citation-screening report.

Modules, one job each: data (reviews), fewshot (split, pairs), encoder (load, pool, cached
embed), contrastive (the study's loss, LoRA, phase 1), metrics (AWSS/WSS), experiment
(run_review, results table), baseline (setfit peer check), fetch (public sources),
plots (figure style), report (papermill runner).
"""

__version__ = "0.1.0"
