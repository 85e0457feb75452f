"""Fine-tuning (seed 001 微调; seed 002 §3.7.4, the three states of a fine-tuned model): the
code lives in :mod:`shendu.experiments.fine_tuning`; this module keeps

    python -m shendu.examples.finetune [--target-size N] [--epochs N] ...

working. Over several seeds with a verdict: ``shendu experiment run fine-tuning``.
"""
from shendu.experiments.fine_tuning import freeze_body, main, replace_head, three_states

__all__ = ["main", "three_states", "replace_head", "freeze_body"]

if __name__ == "__main__":
    main()
