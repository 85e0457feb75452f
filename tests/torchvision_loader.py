"""Import torchvision (test extra) for comparisons, or skip.

The torchvision 0.28.0 wheel on PyPI is linked against CUDA: with the CPU build of torch its
compiled ops (nms, roi_pool, roi_align, ...) do not load, and registering their meta kernels
raises at import. ``torchvision()`` imports it anyway, tolerating those registrations, so the
pure-Python parts (box_iou, make_grid, BoxCoder, the reference ``_roi_align``) can serve as
the oracle; ``has_kernels()`` says whether the compiled ops loaded."""
import pytest


def torchvision():
    import torch.library as tl
    orig = tl.register_fake

    def tolerant(op, *a, **k):
        try:
            dec = orig(op, *a, **k)
        except RuntimeError:
            return lambda f: f

        def wrap(f):
            try:
                return dec(f)
            except RuntimeError:
                return f
        return wrap
    tl.register_fake = tolerant
    try:
        import torchvision as tv
    except ImportError:
        pytest.skip("torchvision not installed (pip install 'shendu[test]')",
                    allow_module_level=True)
    finally:
        tl.register_fake = orig
    return tv


def has_kernels():
    from torchvision.extension import _has_ops
    return _has_ops()
