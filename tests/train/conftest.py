"""The training tests reuse the zoo tests' torch twins (tests/models/zoo_refs.py); torch runs
on one thread (see tests/models/conftest.py)."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "models"))
torch.set_num_threads(1)
