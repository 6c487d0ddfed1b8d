import shutil

import pytest
import torch
from safetensors.torch import save_file

from stylegram.errors import WeightsError
from stylegram.features import weights as weights_module
from stylegram.features.encoder import VGGEncoder
from stylegram.features.vgg import CONV_NAMES
from stylegram.features.weights import load_vgg19_weights, shipped_checksum, shipped_weights_path


def test_shipped_weights_load_and_pass_their_checksum():
    weights = load_vgg19_weights()
    assert weights.preprocessing == "caffe"
    assert set(weights.state) == {f"{name}.{part}" for name in CONV_NAMES for part in ("weight", "bias")}
    assert weights.state["conv5_4.weight"].shape == (512, 512, 3, 3)
    assert weights_module.file_sha256(shipped_weights_path()) == shipped_checksum()


def test_damaged_shipped_file_is_reported(tmp_path, monkeypatch):
    damaged = tmp_path / "vgg19.safetensors"
    shutil.copy(shipped_weights_path(), damaged)
    data = bytearray(damaged.read_bytes())
    data[-1000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(weights_module, "shipped_weights_path", lambda: damaged)
    with pytest.raises(WeightsError, match="damaged"):
        load_vgg19_weights()


@pytest.fixture(scope="module")
def shipped_state():
    return load_vgg19_weights().state


def _features(encoder):
    torch.manual_seed(0)
    return encoder(torch.rand(1, 3, 24, 24))["relu2_1"]


def test_user_file_with_our_key_names(tmp_path, shipped_state):
    path = tmp_path / "mine.safetensors"
    save_file(shipped_state, path)
    weights = load_vgg19_weights(path)
    assert weights.preprocessing == "caffe"
    assert torch.equal(_features(VGGEncoder(["relu2_1"], weights)), _features(VGGEncoder.load(["relu2_1"])))


def test_user_file_with_torchvision_keys(tmp_path, shipped_state):
    torchvision_index = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    state = {}
    for index, name in zip(torchvision_index, CONV_NAMES, strict=True):
        state[f"features.{index}.weight"] = shipped_state[f"{name}.weight"]
        state[f"features.{index}.bias"] = shipped_state[f"{name}.bias"]
    state["classifier.0.weight"] = torch.zeros(4, 4)
    path = tmp_path / "vgg19-torchvision.pth"
    torch.save(state, path)
    weights = load_vgg19_weights(path)
    assert weights.preprocessing == "torchvision"
    assert torch.equal(weights.state["conv3_4.weight"], shipped_state["conv3_4.weight"])
    # A Caffe model saved under torchvision's names: the override restores the right input convention.
    caffe = load_vgg19_weights(path, preprocessing="caffe")
    assert torch.equal(_features(VGGEncoder(["relu2_1"], caffe)), _features(VGGEncoder.load(["relu2_1"])))


def test_user_file_problems_are_clear(tmp_path, shipped_state):
    with pytest.raises(WeightsError, match="not found"):
        load_vgg19_weights(tmp_path / "absent.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        load_vgg19_weights(garbage)
    partial = tmp_path / "partial.safetensors"
    save_file({k: v for k, v in shipped_state.items() if not k.startswith("conv5_4")}, partial)
    with pytest.raises(WeightsError, match=r"lacks conv5_4\.weight"):
        load_vgg19_weights(partial)
    wrong = tmp_path / "wrong.safetensors"
    save_file({**shipped_state, "conv1_1.weight": torch.zeros(64, 1, 3, 3)}, wrong)
    with pytest.raises(WeightsError, match=r"conv1_1\.weight has shape"):
        load_vgg19_weights(wrong)
    with pytest.raises(WeightsError, match="preprocessing"):
        load_vgg19_weights(None, preprocessing="imagenet")
