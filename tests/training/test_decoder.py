"""Decoder training on tiny synthetic photos with a tiny decoder: a few steps take seconds."""

import dataclasses

import pytest
import torch

from stylegram.cli.main import main
from stylegram.errors import InputError
from stylegram.models.decoder import Decoder
from stylegram.models.store import DECODER, load_decoder, save_network
from stylegram.training.decoder import DecoderTrainOptions, train_decoder
from stylegram.training.run import checkpoint_path

TINY = {"layer": "relu1_1", "stages": ((8, 3),), "image_size": 64, "batch_size": 2}


def test_reconstruction_training_learns_to_invert_and_writes_a_loadable_decoder(tmp_path, photos, content_path):
    output = tmp_path / "relu1_1.safetensors"
    options = DecoderTrainOptions(
        steps=40, checkpoint_every=10, preview_every=40, learning_rate=1e-2, style_share=0.0, **TINY
    )
    result = train_decoder(output, photos, options=options, preview_photo=content_path)
    assert result.model == output and [entry["step"] for entry in result.log] == [10, 20, 30, 40]
    assert "style" in result.log[0] and "pixel" in result.log[0]
    assert result.log[-1]["pixel"] < 0.5 * result.log[0]["pixel"]
    assert (tmp_path / "relu1_1_preview_00040.jpg").is_file()
    decoder, info = load_decoder(output)
    assert decoder.layer == "relu1_1" and info["trained"]["steps"] == 40
    assert decoder(torch.rand(1, 64, 20, 28)).shape == (1, 3, 20, 28)
    further = train_decoder(
        tmp_path / "further.safetensors",
        photos,
        options=dataclasses.replace(options, init=str(output), learning_rate=1e-3),
    )
    assert further.log[0]["pixel"] < 0.5 * result.log[0]["pixel"]  # it starts where the first run ended
    with pytest.raises(InputError, match="decoder, not"):
        train_decoder(
            tmp_path / "x.safetensors", photos, options=dataclasses.replace(options, init=str(output), stages=((4, 3),))
        )


def test_style_pairs_come_from_the_paintings_and_a_stopped_run_resumes(tmp_path, photos, style_path):
    output = tmp_path / "relu1_1.safetensors"

    def stop_at_three(event):
        if event.step == 3:
            raise KeyboardInterrupt

    options = DecoderTrainOptions(steps=5, checkpoint_every=5, preview_every=0, style_share=0.5, **TINY)
    stopped = train_decoder(output, photos, [style_path], options, on_progress=stop_at_three)
    assert stopped.interrupted and not output.exists()
    assert torch.load(checkpoint_path(output), weights_only=False)["step"] == 3
    steps_seen = []
    resumed = train_decoder(output, photos, [style_path], options, on_progress=lambda e: steps_seen.append(e.step))
    assert steps_seen == [4, 5] and resumed.model == output
    assert load_decoder(output)[1]["trained"]["styles"] == ["style.png"]
    with pytest.raises(InputError, match="of another run"):
        train_decoder(output, photos, [style_path], DecoderTrainOptions(steps=5, style_share=1.0, **TINY))


def test_bad_settings_are_refused_before_any_work(tmp_path, photos, capsys):
    with pytest.raises(InputError, match="needs a folder of paintings"):
        train_decoder(tmp_path / "d.safetensors", photos, options=DecoderTrainOptions(style_share=0.5))
    with pytest.raises(InputError, match="multiple of 16"):
        train_decoder(tmp_path / "d.safetensors", photos, options=DecoderTrainOptions(image_size=72, style_share=0))
    with pytest.raises(InputError, match="no such file or folder"):
        train_decoder(tmp_path / "d.safetensors", photos, [tmp_path / "missing.jpg"])
    code = main(["train-decoder", "-o", str(tmp_path / "d.safetensors"), "--photos", str(photos),
                 "--style-share", "1.5"])  # fmt: skip
    assert code == 2 and "style share must be between 0 and 1" in capsys.readouterr().err


def test_stage_wise_training_trains_only_the_head_on_a_fixed_shallower_decoder(tmp_path, photos):
    tail_file = tmp_path / "relu1_1.safetensors"
    save_network(Decoder("relu1_1", ((4, 3),)), tail_file, DECODER, {"trained": {}})
    options = DecoderTrainOptions(
        layer="relu2_1", stages=((8,), (64, 4, 3)), image_size=64, batch_size=2, steps=30, checkpoint_every=10,
        preview_every=0, learning_rate=1e-2, style_share=0.0, tail=str(tail_file),
    )  # fmt: skip
    result = train_decoder(tmp_path / "relu2_1.safetensors", photos, options=options)
    assert "features" in result.log[0] and "pixel" not in result.log[0]
    assert result.log[-1]["features"] < 0.7 * result.log[0]["features"]
    decoder, info = load_decoder(result.model)
    tail, _ = load_decoder(tail_file)
    assert info["trained"]["tail"] == str(tail_file)
    for mine, theirs in zip(decoder.body[-len(tail.body) :], tail.body, strict=True):
        for name, value in theirs.state_dict().items():
            assert torch.equal(mine.state_dict()[name], value)  # the tail stayed as it was
    with pytest.raises(InputError, match="style share must be 0"):
        train_decoder(tmp_path / "x.safetensors", photos, options=dataclasses.replace(options, style_share=0.5))
    with pytest.raises(InputError, match="does not end in a relu1_1 decoder"):
        train_decoder(tmp_path / "x.safetensors", photos, options=dataclasses.replace(options, stages=((8,), (4, 3))))


def test_the_style_term_compares_the_layers_chosen(tmp_path, photos, style_path, capsys):
    options = DecoderTrainOptions(steps=1, checkpoint_every=1, preview_every=0, style_share=0.5, **TINY)
    default = train_decoder(tmp_path / "default.safetensors", photos, [style_path], options)
    deeper = dataclasses.replace(options, style_layers=("relu2_1", "relu1_1"))
    result = train_decoder(tmp_path / "deeper.safetensors", photos, [style_path], deeper)
    # Same seed, same crops, same first step: the only difference is relu2_1's term added to relu1_1's.
    assert result.log[0]["style"] > default.log[0]["style"] > 0
    assert result.log[0]["content"] == pytest.approx(default.log[0]["content"])
    assert load_decoder(result.model)[1]["trained"]["style_layers"] == ["relu2_1", "relu1_1"]
    code = main(["train-decoder", "-o", str(tmp_path / "d.safetensors"), "--photos", str(photos),
                 "--styles", str(style_path), "--style-layers", "relu1_1,relu9_1"])  # fmt: skip
    assert code == 2 and "style layers must be some of relu1_1" in capsys.readouterr().err


def test_validation_figures_are_measured_on_held_out_pictures_and_grow_on_resuming(tmp_path, photos, style_path):
    from .test_data import noise_photo

    noise_photo(9).save(photos / "3.png")  # "3.png" is on the validation side of the split
    styles = tmp_path / "styles"
    styles.mkdir()
    for name, seed in (("style.png", 4), ("b.png", 5)):  # "b.png" is held out too
        noise_photo(seed).save(styles / name)
    output = tmp_path / "relu1_1.safetensors"

    def stop_at_three(event):
        if event.step == 3:
            raise KeyboardInterrupt

    options = DecoderTrainOptions(
        steps=4, checkpoint_every=1, preview_every=0, validate_every=2, style_share=0.5, style_loss="gram", **TINY
    )
    stopped = train_decoder(output, photos, styles, options, on_progress=stop_at_three)
    assert [entry["step"] for entry in stopped.validation] == [0, 2]
    resumed = train_decoder(output, photos, styles, options)
    assert [entry["step"] for entry in resumed.validation] == [0, 2, 4]
    assert {"content", "style", "total"} <= set(resumed.validation[0])
    assert load_decoder(output)[1]["trained"]["styles"] == ["style.png"]  # b.png held out of training
    moments = train_decoder(
        tmp_path / "m.safetensors", photos, styles, dataclasses.replace(options, style_loss="moments")
    )
    # Same crops and first step: only the style term's comparison differs.
    assert moments.validation[0]["content"] == pytest.approx(resumed.validation[0]["content"])
    assert moments.validation[0]["style"] != pytest.approx(resumed.validation[0]["style"])
    with pytest.raises(InputError, match="style loss must be one of"):
        train_decoder(tmp_path / "x.safetensors", photos, styles, dataclasses.replace(options, style_loss="l1"))
