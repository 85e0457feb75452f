"""Make the zoo tests' torch reference architectures (zoo_refs.py) importable, and run torch
on one thread: on a shared 2-core machine its OpenMP workers spin against NumPy's BLAS
threads (a float64 MobileNetV2 backward took minutes instead of 0.2 s)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
torch.set_num_threads(1)
