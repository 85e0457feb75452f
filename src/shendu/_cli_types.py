"""Argument types for the command line (``add_argument(type=...)``): a bad value becomes
argparse's own ``error: argument --flag:`` line and exit status 2, before anything is loaded
or written. Standard library only, so ``shendu --help`` stays fast."""
import argparse
import math

__all__ = ["positive_int", "non_negative_int", "finite_float", "positive_float",
           "non_negative_float", "fraction", "key_value"]


def _number(kind, text, ok, wanted):
    try:
        v = kind(text)
    except ValueError:
        v = None
    if v is None or not ok(v):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return v


def positive_int(text):
    return _number(int, text, lambda v: v > 0, "a positive integer")


def non_negative_int(text):
    return _number(int, text, lambda v: v >= 0, "an integer >= 0")


def finite_float(text):
    return _number(float, text, math.isfinite, "a finite number")


def positive_float(text):
    return _number(float, text, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def non_negative_float(text):
    return _number(float, text, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def fraction(text):
    return _number(float, text, lambda v: 0 <= v < 1, "a number in [0, 1)")


def key_value(text):
    """``KEY=VALUE`` with KEY a Python identifier (a constructor argument); returned as is."""
    key = text.split("=", 1)[0]
    if "=" not in text or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. dropout=0.2), got {text!r}")
    return text
