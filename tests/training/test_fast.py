"""Training on tiny synthetic photos with a tiny network: a few steps take seconds."""

import json

import pytest
import torch
from PIL import Image

from stylegram.cli.main import main
from stylegram.errors import InputError, WeightsError
from stylegram.models.store import load_style_model
from stylegram.training.fast import TrainOptions, train_style
from stylegram.training.run import checkpoint_path

TINY = {"widths": (8, 8, 16), "residual_blocks": 1, "image_size": 64, "style_size": 128, "batch_size": 2}


def test_training_lowers_the_loss_and_writes_a_loadable_model(tmp_path, photos, style_path, content_path):
    style = tmp_path / "style.png"
    Image.open(style_path).resize((160, 128)).save(style)
    output = tmp_path / "model.safetensors"
    options = TrainOptions(steps=30, checkpoint_every=10, preview_every=30, learning_rate=1e-2, **TINY)
    result = train_style(style, output, photos, options, preview_photo=content_path)
    assert result.model == output and result.steps_done == 30
    assert [entry["step"] for entry in result.log] == [10, 20, 30]
    assert result.log[-1]["style"] < 0.5 * result.log[0]["style"]
    assert (tmp_path / "model_preview_00030.jpg").is_file()
    net, info = load_style_model(output)
    assert info["trained"]["steps"] == 30 and info["style"] == "style.png"
    assert info["trained"]["content_layers"] == {"relu2_2": 1.0}
    assert net(torch.rand(1, 3, 40, 56)).shape == (1, 3, 40, 56)


def test_validation_photos_are_held_out_and_measured_every_so_often(tmp_path, photos, style_path):
    from .test_data import noise_photo

    noise_photo(9).save(photos / "3.png")  # on the validation side of the split
    style = tmp_path / "style.png"
    Image.open(style_path).resize((160, 128)).save(style)
    output = tmp_path / "model.safetensors"
    options = TrainOptions(
        steps=20, checkpoint_every=10, preview_every=0, validate_every=10, learning_rate=1e-2, **TINY
    )
    result = train_style(style, output, photos, options)
    assert [entry["step"] for entry in result.validation] == [0, 10, 20]
    assert result.validation[-1]["style"] < result.validation[0]["style"]  # it learns what holds for unseen photos
    assert json.loads(json.dumps(result.validation)) == result.validation


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, photos, style_path):
    style = tmp_path / "style.png"
    Image.open(style_path).resize((160, 128)).save(style)
    output = tmp_path / "model.safetensors"

    def stop_at_four(event):
        if event.step == 4:
            raise KeyboardInterrupt

    options = TrainOptions(steps=6, checkpoint_every=2, preview_every=0, **TINY)
    stopped = train_style(style, output, photos, options, on_progress=stop_at_four)
    assert stopped.interrupted and stopped.model is None and not output.exists()
    assert torch.load(checkpoint_path(output), weights_only=False)["step"] == 4
    moved = tmp_path / "elsewhere" / "style.png"  # another checkout, another precision: the same run
    moved.parent.mkdir()
    moved.write_bytes(style.read_bytes())
    other_precision = TrainOptions(steps=6, checkpoint_every=2, preview_every=0, precision="bf16", **TINY)
    steps_seen = []
    resumed = train_style(
        moved, output, photos, other_precision, on_progress=lambda event: steps_seen.append(event.step)
    )
    assert steps_seen == [5, 6] and resumed.model == output
    other = TrainOptions(steps=6, checkpoint_every=2, preview_every=0, **{**TINY, "batch_size": 3})
    with pytest.raises(InputError, match="of another run"):
        train_style(style, output, photos, other)


def test_bad_training_input_is_refused(tmp_path, photos, style_path):
    small = tmp_path / "small.png"
    Image.open(style_path).resize((100, 80)).save(small)
    with pytest.raises(InputError, match="training needs at least 128 px"):
        train_style(small, tmp_path / "m.safetensors", photos, TrainOptions(**TINY))
    with pytest.raises(InputError, match="image size must be a multiple of 8"):
        train_style(style_path, tmp_path / "m.safetensors", photos, TrainOptions(image_size=60))
    with pytest.raises(InputError, match="relu9_9"):
        train_style(style_path, tmp_path / "m.safetensors", photos, TrainOptions(content_layers={"relu9_9": 1.0}))
    with pytest.raises(InputError, match="at least one content layer"):
        train_style(style_path, tmp_path / "m.safetensors", photos, TrainOptions(content_layers={}))


def test_train_and_use_a_model_from_the_command_line(tmp_path, photos, style_path, content_path, capsys):
    style = tmp_path / "style.png"
    Image.open(style_path).resize((160, 128)).save(style)
    model = tmp_path / "mine.safetensors"
    arguments = ["train", "--style", style, "-o", model, "--photos", photos, "--steps", 2, "--image-size", 64]
    assert main([*map(str, arguments), "--quiet"]) == 0
    log = json.loads((tmp_path / "mine.log.json").read_text())
    assert log["log"][-1]["step"] == 2
    output = tmp_path / "out.png"
    assert main(["transfer", str(content_path), "--model", str(model), "-o", str(output), "--size", "64", "-q"]) == 0
    assert Image.open(output).size == (64, 48)
    onnx_path = tmp_path / "mine.onnx"
    assert main(["export", str(model), "--onnx", str(onnx_path)]) == 0
    assert "max difference" in capsys.readouterr().out and onnx_path.is_file()


def test_unknown_and_foreign_models_are_refused(tmp_path, content_path, capsys):
    assert main(["transfer", str(content_path), "--model", "no_such_style", "-o", str(tmp_path / "o.png")]) == 2
    assert "unknown model 'no_such_style'" in capsys.readouterr().err
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(b"\x00" * 64)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_style_model(foreign)
    from safetensors.torch import save_file

    save_file({"conv.weight": torch.zeros(2, 2)}, str(foreign))
    with pytest.raises(WeightsError, match="not a stylegram style model"):
        load_style_model(foreign)


def test_the_adversarial_term_trains_a_discriminator_and_checkpoints_it(tmp_path, photos, style_path):
    style = tmp_path / "style.png"
    Image.open(style_path).resize((160, 128)).save(style)
    output = tmp_path / "gan.safetensors"
    # bf16 forced: the network then outputs bf16 under autocast while the discriminator runs in fp32.
    options = TrainOptions(
        steps=3, checkpoint_every=3, preview_every=0, adversarial_weight=0.1, precision="bf16", **TINY
    )
    result = train_style(style, output, photos, options)
    assert result.log[-1]["adversarial"] > 0
    assert "adversary" in torch.load(checkpoint_path(output), weights_only=False)
