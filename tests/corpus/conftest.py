"""The corpus is data: loss and model sources that diffcheck reads with ast, never imports.

They import torch, jax, torchvision, mmdet, ... which the test environment does not have, so
pytest (run with --doctest-modules) must not collect them. tools/verify_corpus.py imports them
in a scratch environment with PyTorch and JAX to check the labels numerically.
"""

collect_ignore_glob = ["source/*.py", "models/*.py"]
