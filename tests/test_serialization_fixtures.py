"""Files written by shendu's earlier hand-written safetensors writer (tests/fixtures/serialization,
made by make_fixtures.py there) still load, with every value, dtype and structure intact."""
import importlib.util
import math
import os
from collections import OrderedDict

import numpy as np

import shendu

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "serialization")
_spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(HERE, "make_fixtures.py"))
_mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mk)
arr = _mk.arr


def _eq(t, a):
    assert t.numpy().dtype == a.dtype and t.shape == a.shape
    np.testing.assert_array_equal(t.numpy(), a)


def test_flat_state_dicts_still_load():
    for name, cls in (("v0_flat_odict.safetensors", OrderedDict), ("v0_flat_dict.safetensors", OrderedDict)):
        sd = shendu.load(os.path.join(HERE, name))
        assert type(sd) is cls
        assert list(sd) == ["fc.weight", "fc.bias", "bn.num_batches_tracked", "half", "f64", "i8",
                            "u8", "i16", "i32", "mask", "empty"]
        _eq(sd["fc.weight"], arr((3, 4), np.float32, 0))
        _eq(sd["fc.bias"], arr((3,), np.float32, 1))
        _eq(sd["bn.num_batches_tracked"], np.array(7))
        _eq(sd["half"], arr((2, 2), np.float16, 2))
        _eq(sd["f64"], arr((2,), np.float64, 3))
        _eq(sd["i8"], np.array([-3, 4], dtype=np.int8))
        _eq(sd["u8"], np.array([250, 1], dtype=np.uint8))
        _eq(sd["i16"], np.array([-300], dtype=np.int16))
        _eq(sd["i32"], np.array([[1, 2]], dtype=np.int32))
        _eq(sd["mask"], np.array([True, False, True]))
        _eq(sd["empty"], np.zeros((0, 3), np.float32))


def test_nested_checkpoint_still_loads():
    b = shendu.load(os.path.join(HERE, "v0_nested.shendu"))
    assert type(b) is dict
    assert b["epoch"] == 3 and b["lr"] == 0.1 and math.isnan(b["nan"]) and b["inf"] == -math.inf
    assert b["name"] == "run" and b["none"] is None and b["flags"] == (True, False)
    assert b["big"] == 2 ** 40 and type(b["big"]) is int
    assert list(b["state"]) == [0] and b["state"][0]["step"] == 5
    _eq(b["state"][0]["buf"], arr((2,), np.float32, 5))
    assert b["groups"] == [{"params": [0, 1], "lr": 1e-3}]
    assert isinstance(b["param"], shendu.nn.Parameter) and b["param"].requires_grad
    _eq(b["param"].detach(), arr((2,), np.float32, 4))
    assert b["grad_tensor"].requires_grad and not isinstance(b["grad_tensor"], shendu.nn.Parameter)
    _eq(b["grad_tensor"].detach(), arr((2,), np.float32, 6))
    assert isinstance(b["arr"], np.ndarray) and np.array_equal(b["arr"], np.arange(3))
    assert b["dtype"] is shendu.float64
    assert type(b["od"]) is OrderedDict and list(b["od"]) == ["b", "a"] and b["od"]["b"] == 1
    _eq(b["od"]["a"], arr((1, 1), np.float64, 7))
    _eq(b["scalar"], np.array(2.5, np.float32))


def test_single_tensor_and_empty_dict_still_load():
    _eq(shendu.load(os.path.join(HERE, "v0_tensor.shendu")), arr((2, 3), np.float32, 8))
    assert shendu.load(os.path.join(HERE, "v0_empty_dict.shendu")) == {}
