"""Anomaly mode shows where the failing node was created; NumPy's floating-point warnings
from inside shendu's ops never reach the user (torch returns inf/nan without a word), while
the user's own NumPy code still warns."""
import os
import subprocess
import sys
import warnings

import pytest

import shendu
from shendu.autograd import anomaly


def test_anomaly_mode_warns_with_the_forward_traceback():
    x = shendu.tensor([0.0, 1.0], requires_grad=True)
    with shendu.autograd.detect_anomaly():
        line = sys._getframe().f_lineno + 1
        y = x.sqrt() * 0.0                  # d sqrt at 0 is inf; inf * 0 is NaN
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward' returned nan "
                                                   "values in its 0th output"):
                y.sum().backward()
    msgs = [str(r.message) for r in w if r.category is UserWarning]
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert m.startswith("Error detected in SqrtBackward. Traceback of forward call that caused "
                        "the error:")
    assert f'File "{__file__}", line {line}, in test_anomaly_mode_warns' in m
    assert "y = x.sqrt() * 0.0" in m
    with shendu.autograd.detect_anomaly():
        z = x * 2
    assert "z = x * 2" in "".join(anomaly.forward_trace(z.grad_fn))


def test_anomaly_mode_traces_custom_functions_and_errors_raised_by_backward():
    class Boom(shendu.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    x = shendu.ones(2, requires_grad=True)
    with shendu.autograd.detect_anomaly():
        y = Boom.apply(x)
        with warnings.catch_warnings(record=True) as w, pytest.raises(ValueError, match="boom"):
            warnings.simplefilter("always")
            y.sum().backward()
    assert any("y = Boom.apply(x)" in str(r.message) for r in w)


def test_nothing_is_recorded_outside_anomaly_mode():
    x = shendu.ones(2, requires_grad=True)
    with shendu.autograd.detect_anomaly():
        pass                                # installs the wrappers
    y = x.exp()
    assert anomaly.forward_trace(y.grad_fn) is None


_SCRIPT = r"""
import numpy as np
import shendu
import shendu.nn.functional as F
inf, nan = float("inf"), float("nan")
x = shendu.tensor([0., -1., 1e30, inf, nan, 1.0, -inf], requires_grad=True)
y = shendu.tensor([0., 0., 1e-30, inf, 1., -2., inf], requires_grad=True)
for f in (shendu.log, shendu.log2, shendu.log10, shendu.log1p, shendu.sqrt, shendu.rsqrt,
          shendu.exp, shendu.reciprocal, shendu.sigmoid, shendu.tanh, shendu.asin, shendu.acos,
          F.softplus, lambda t: F.log_softmax(t, 0), lambda t: F.softmax(t, 0),
          lambda t: F.normalize(t, dim=0)):
    f(x).sum().backward()
for f in (shendu.div, shendu.pow, shendu.atan2, shendu.remainder, shendu.fmod, shendu.mul,
          shendu.hypot, shendu.xlogy):
    f(x, y).sum().backward()
with shendu.autograd.detect_anomaly():
    try:
        shendu.log(x).sum().backward()
    except RuntimeError:
        pass
shendu.tensor([]).mean()
shendu.tensor([inf, -inf]).sum()
np.log(np.zeros(1))          # the user's own NumPy warning must still show
"""


def test_numpy_floating_point_warnings_do_not_leak():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PYTHONWARNINGS="default")
    r = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "RuntimeWarning" in ln]
    assert len(lines) == 1 and "<string>" in lines[0] and \
        "divide by zero encountered in log" in lines[0], r.stderr
