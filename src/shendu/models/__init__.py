"""The model zoo, with torchvision's constructor names, signatures and state_dict keys where
torchvision has the model (so weights exported from torchvision to safetensors load with
``load_state_dict``, or with ``resnet18(weights="resnet18.safetensors")``).

Every constructor takes ``num_classes`` and ``in_channels`` (3 by default; 1 for LeNet
and MLP). Models designed for 224×224 ImageNet images take ``small_input=True`` for
32×32 (CIFAR) or 28×28 (MNIST) images: the stem becomes a 3×3 stride-1 convolution and
the early down-sampling is dropped (each family's docstring says exactly what changes).
``small_input`` never changes the state_dict keys, only shapes where a layer's size
depends on it.

    >>> from shendu import models
    >>> models.list_models()                     # every constructor's name
    >>> net = models.get_model("resnet18", num_classes=10, small_input=True)

| family | constructors | intended input |
| --- | --- | --- |
| LeNet-5 | ``lenet`` / ``LeNet`` | 1×28×28 (``image_size=32``: 1×32×32) |
| AlexNet | ``alexnet`` (``lrn=True``: the paper's LRN) | 3×224×224 |
| VGG | ``vgg11/13/16/19`` and ``_bn`` | 3×224×224 |
| NiN | ``nin`` / ``NiN`` | 3×224×224 |
| GoogLeNet | ``googlenet`` (``aux_logits``) | 3×224×224 |
| ResNet | ``resnet18/34/50/101/152``, ``resnext50_32x4d``, ``resnext101_32x8d``, ``wide_resnet50_2`` | 3×224×224 |
| Pre-activation ResNet | ``preact_resnet18/34/50`` | 3×224×224 |
| SE-ResNet | ``se_resnet18/34/50/101`` (``SEBlock``) | 3×224×224 |
| DenseNet | ``densenet121/161/169/201`` | 3×224×224 |
| MobileNet | ``mobilenet_v1``, ``mobilenet_v2`` | 3×224×224 |
| SqueezeNet | ``squeezenet1_0``, ``squeezenet1_1`` | 3×224×224 |
| ShuffleNet V2 | ``shufflenet_v2`` (= ``x1_0``), ``shufflenet_v2_x0_5/x1_5/x2_0`` | 3×224×224 |
| MLP | ``mlp`` / ``MLP`` | any (flattened) |
"""
from ._utils import (list_models, get_model, get_model_builder, from_checkpoint,
                     Conv2dNormActivation)
from .lenet import *          # noqa: F401,F403
from .alexnet import *        # noqa: F401,F403
from .vgg import *            # noqa: F401,F403
from .nin import *            # noqa: F401,F403
from .googlenet import *      # noqa: F401,F403
from .resnet import *         # noqa: F401,F403
from .se import *             # noqa: F401,F403
from .densenet import *       # noqa: F401,F403
from .mobilenet import *      # noqa: F401,F403
from .squeezenet import *     # noqa: F401,F403
from .shufflenet import *     # noqa: F401,F403
from .mlp import *            # noqa: F401,F403
