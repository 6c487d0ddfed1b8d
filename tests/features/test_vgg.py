import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from torch.nn import functional

from stylegram.errors import InputError
from stylegram.features.encoder import VGGEncoder
from stylegram.features.vgg import LAYER_NAMES, VGG19, preprocess
from stylegram.features.weights import load_vgg19_weights, shipped_weights_path


def test_layer_names_follow_vgg19():
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-1] == "pool5"
    assert sum(name.startswith("conv") for name in LAYER_NAMES) == 16
    assert len(LAYER_NAMES) == 16 * 2 + 5


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        ("relu1_1", (64, 32, 48)),
        ("pool1", (64, 16, 24)),
        ("relu3_1", (256, 8, 12)),
        ("relu4_2", (512, 4, 6)),
        ("relu5_1", (512, 2, 3)),
        ("pool5", (512, 1, 1)),
    ],
)
def test_activation_shapes(layer, shape):
    net = VGG19(last_layer="pool5")
    assert tuple(net(torch.zeros(1, 3, 32, 48), [layer])[layer].shape) == (1, *shape)


def test_network_is_truncated_after_the_deepest_layer():
    net = VGG19(last_layer="relu4_2")
    assert list(net.layers)[-1] == "relu4_2"
    assert "conv4_3" not in net.layers
    with pytest.raises(InputError, match="deeper"):
        net(torch.zeros(1, 3, 32, 32), ["relu5_1"])


def test_unknown_layer_and_pooling_are_refused():
    with pytest.raises(InputError, match="unknown VGG19 layer 'relu6_1'"):
        VGG19(last_layer="relu6_1")
    with pytest.raises(InputError, match="pooling"):
        VGG19(pooling="median")


def test_average_pooling_averages():
    net = VGG19(last_layer="pool1", pooling="avg")
    net.load_convolutions(load_vgg19_weights().state)
    x = torch.rand(1, 3, 8, 8)
    out = net(x, ["relu1_2", "pool1"])
    assert torch.allclose(out["pool1"], functional.avg_pool2d(out["relu1_2"], 2))


def test_caffe_preprocessing_is_bgr_0_255_minus_mean():
    image = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)  # R=0, G=0.5, B=1
    expected = torch.tensor([255.0 - 103.939, 127.5 - 116.779, 0.0 - 123.68]).view(1, 3, 1, 1)
    assert torch.allclose(preprocess(image, "caffe"), expected)


def _independent_features(image: np.ndarray) -> dict[str, torch.Tensor]:
    """relu1_1 … relu2_1 computed straight from the file with numpy codebooks and torch's functional ops."""
    raw = load_file(str(shipped_weights_path()))

    def conv(name, x):
        weight = raw[f"{name}.weight.codebook"][raw[f"{name}.weight.codes"].astype(np.int64)]
        return functional.conv2d(x, torch.from_numpy(weight), torch.from_numpy(raw[f"{name}.bias"]), padding=1)

    bgr = image[:, ::-1] * 255.0 - np.array([103.939, 116.779, 123.68]).reshape(1, 3, 1, 1)
    x = torch.from_numpy(np.ascontiguousarray(bgr, dtype=np.float32))
    relu1_1 = conv("conv1_1", x).clamp(min=0)
    relu1_2 = conv("conv1_2", relu1_1).clamp(min=0)
    relu2_1 = conv("conv2_1", functional.max_pool2d(relu1_2, 2)).clamp(min=0)
    return {"relu1_1": relu1_1, "relu2_1": relu2_1}


def test_shipped_weights_give_the_activations_of_an_independent_computation():
    image = np.random.default_rng(0).random((1, 3, 16, 20))
    encoder = VGGEncoder.load(["relu1_1", "relu2_1"])
    ours = encoder(torch.from_numpy(image).float())
    reference = _independent_features(image)
    for name in ("relu1_1", "relu2_1"):
        assert torch.allclose(ours[name], reference[name], rtol=1e-4, atol=1e-3)


def test_one_conv1_1_output_by_explicit_sum():
    """A single conv1_1 response summed by hand over its 3x3x3 window: no convolution routine involved."""
    image = np.random.default_rng(1).random((1, 3, 5, 5))
    raw = load_file(str(shipped_weights_path()))
    weight = raw["conv1_1.weight.codebook"][raw["conv1_1.weight.codes"].astype(np.int64)]
    bgr = image[0, ::-1] * 255.0 - np.array([103.939, 116.779, 123.68]).reshape(3, 1, 1)
    channel, row, col = 7, 2, 2
    by_hand = float((weight[channel] * bgr[:, row - 1 : row + 2, col - 1 : col + 2]).sum() + raw["conv1_1.bias"][7])
    conv = VGGEncoder.load(["conv1_1"])(torch.from_numpy(image).float())["conv1_1"]
    assert conv[0, channel, row, col].item() == pytest.approx(by_hand, rel=1e-4, abs=1e-3)


def test_caffe_vgg_recognises_structure():
    """Sanity of the real weights: relu5_1 responds differently to a photo than to flat grey."""
    encoder = VGGEncoder.load(["relu5_1"])
    photo = torch.rand(1, 3, 64, 64)
    grey = torch.full((1, 3, 64, 64), 0.5)
    assert encoder(photo)["relu5_1"].mean() != pytest.approx(encoder(grey)["relu5_1"].mean().item(), rel=0.05)
