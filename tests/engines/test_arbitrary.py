"""The AdaIN and WCT engines with tiny untrained decoders (the plumbing), and with the shipped ones (the result)."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from stylegram.api import stylize
from stylegram.cli.main import main
from stylegram.errors import InputError
from stylegram.evaluation import evaluate
from stylegram.io.image import image_to_tensor, read_metadata
from stylegram.models.decoder import Decoder
from stylegram.models.store import DECODER, save_network

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"

TINY_STAGES = {
    "relu1_1": ((3,),),
    "relu2_1": ((8,), (3,)),
    "relu3_1": ((8,), (8,), (3,)),
    "relu4_1": ((8,), (8,), (8,), (3,)),
}


@pytest.fixture(scope="module")
def decoders(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decoders")
    torch.manual_seed(0)
    for layer, stages in TINY_STAGES.items():
        save_network(Decoder(layer, stages), folder / f"{layer}.safetensors", DECODER, {"trained": {}})
    return str(folder)


@pytest.mark.parametrize("engine", ["adain", "wct", "efdm"])
def test_engines_run_every_level_at_the_working_size_and_scale_to_the_output(
    engine, decoders, content_path, style_path
):
    events = []
    result = stylize(content_path, style_path, engine=engine, size=96, work_size=64, decoders=decoders,
                     on_progress=events.append)  # fmt: skip
    run = result.options["run"]
    assert result.image.size == (96, 72) and run["work_size"] == [64, 48]
    assert run["levels"] == (["relu4_1", "relu1_1"] if engine == "wct" else ["relu4_1"])
    assert run["finish_levels"] == ([] if engine == "wct" else ["relu1_1"])
    assert run["strength"] == (0.8 if engine == "wct" else 1.0)  # each engine's measured default
    assert [event.step for event in events] == [1, 2]
    events.clear()
    every = stylize(content_path, style_path, engine=engine, size=96, work_size=64, decoders=decoders,
                    levels=("relu4_1", "relu3_1"), finish_levels=("relu2_1", "relu1_1"),
                    on_progress=events.append)  # fmt: skip
    assert [event.step for event in events] == [1, 2, 3, 4] and every.image.size == (96, 72)
    weaker = stylize(content_path, style_path, engine=engine, size=96, work_size=64, decoders=decoders, strength=0.2)
    assert (image_to_tensor(weaker.image) - image_to_tensor(result.image)).abs().mean() > 1e-3


def test_a_painting_used_again_is_not_encoded_again(decoders, content_path, style_path, monkeypatch):
    from stylegram.engines import arbitrary

    monkeypatch.setattr(arbitrary, "_statistics_cache", arbitrary.StatisticsCache(size=2))
    encoded = []
    original = arbitrary._encode

    def counting(encoder, image, layers):
        encoded.append(tuple(image.shape))
        return original(encoder, image, layers)

    monkeypatch.setattr(arbitrary, "_encode", counting)
    common = {"engine": "adain", "size": 96, "work_size": 64, "decoders": decoders}
    first = stylize(content_path, style_path, **common)
    painting_passes = len(encoded) - 2  # the photo's two levels, then the painting's
    encoded.clear()
    again = stylize(content_path, style_path, **common)
    assert painting_passes == 1 and len(encoded) == 2  # only the photo this time
    assert torch.equal(image_to_tensor(again.image), image_to_tensor(first.image))
    encoded.clear()
    stylize(content_path, style_path, **common, style_size=128)  # another size is another painting
    assert len(encoded) == 3


def test_tiles_agree_with_the_whole_picture(decoders, content_path, style_path):
    photo = Image.open(content_path).resize((384, 288))
    common = {"engine": "wct", "size": None, "work_size": None, "decoders": decoders, "levels": ("relu2_1",)}
    whole = image_to_tensor(stylize(photo, style_path, **common).image)
    tiled_result = stylize(photo, style_path, tile_size=160, **common)
    assert tiled_result.options["run"]["tile_size"] == 160
    assert (image_to_tensor(tiled_result.image) - whole).abs().mean() < 0.02


def test_flat_greyscale_and_weighted_styles(decoders, content_path, style_path, tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(flat)
    result = stylize(content_path, flat, engine="wct", size=64, decoders=decoders, strength=1.0)
    assert image_to_tensor(result.image).std(dim=(2, 3)).max() < 0.02  # one colour in, one colour out
    grey = tmp_path / "grey.png"
    Image.open(style_path).convert("L").save(grey)
    blended = stylize(content_path, [(style_path, 3.0), (grey, 1.0)], engine="adain", size=64, decoders=decoders)
    assert blended.options["styles"][0]["weight"] == 3.0


def test_regions_give_each_style_its_part(decoders, content_path, style_path, tmp_path):
    left, right, flat = tmp_path / "left.png", tmp_path / "right.png", tmp_path / "flat.png"
    mask = Image.new("L", (64, 48), 0)
    mask.paste(255, (0, 0, 32, 48))
    mask.save(left)
    Image.eval(mask, lambda value: 255 - value).save(right)
    Image.new("RGB", (64, 64), (30, 30, 220)).save(flat)
    common = {"engine": "adain", "size": None, "work_size": None, "decoders": decoders}
    painted = image_to_tensor(stylize(content_path, [style_path, flat], masks=[left, right], **common).image)
    only_flat = image_to_tensor(stylize(content_path, flat, **common).image)
    # The right half is the flat style's (its statistics measured there, hence not identical), the left is not.
    assert (painted[..., 36:] - only_flat[..., 36:]).abs().mean() < (
        painted[..., :28] - only_flat[..., :28]
    ).abs().mean()


def test_bad_input_is_refused_with_one_line(decoders, content_path, style_path, tmp_path, capsys):
    def refused(match, **options):
        with pytest.raises(InputError, match=match):
            stylize(content_path, style_path, engine="adain", decoders=decoders, **options)

    refused("strength must be between 0 and 1", strength=1.5)
    refused("levels, then finish levels, go from the deepest", levels=("relu1_1", "relu4_1"))
    refused("levels, then finish levels, go from the deepest", levels=("relu2_1",), finish_levels=("relu3_1",))
    refused("levels must be some of", levels=("relu4_2",))
    refused("work size must be a whole number", work_size=10)
    with pytest.raises(InputError, match="no relu4_1 decoder in"):
        stylize(content_path, style_path, engine="adain", decoders=str(tmp_path))
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8)).save(tiny)
    with pytest.raises(InputError, match="style image 1 is 8x8"):
        stylize(content_path, tiny, engine="wct", decoders=decoders)
    output = tmp_path / "out.png"
    code = main(["transfer", str(content_path), str(style_path), "--engine", "wct", "--decoders", decoders,
                 "--strength", "-0.5", "-o", str(output)])  # fmt: skip
    assert code == 2 and not output.exists()
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["transfer", str(content_path), str(style_path), "--engine", "wct", "--decoders", decoders,
                 "--size", "64", "-q", "-o", str(output)]) == 0  # fmt: skip
    assert Image.open(output).size == (64, 48)


@pytest.mark.parametrize("engine", ["adain", "wct"])
def test_shipped_decoders_move_the_photo_towards_the_painting(engine):
    photo, painting = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg"
    result = stylize(photo, painting, engine=engine, size=256)
    stylized, original = evaluate([result.image, photo], photo, painting).outputs
    assert stylized["style_distance"] < 0.8 * original["style_distance"]
    assert stylized["ssim"] > 0.1  # still the photo's picture, not noise


def test_the_photo_engine_keeps_the_photos_structure_and_takes_the_references_colours():
    photo, reference = EXAMPLES / "tubingen.jpg", EXAMPLES / "hoovertowernight.jpg"
    made = {engine: stylize(photo, reference, engine=engine, size=128).image for engine in ("photo", "wct")}
    assert stylize(photo, reference, engine="photo", size=128).options["run"]["smoothing"] == pytest.approx(1 / 16)
    report = evaluate([made["photo"], made["wct"], photo], photo, reference).outputs
    kept, painted, original = report
    assert kept["structure_ssim"] > painted["structure_ssim"] + 0.1  # photographic, not painted
    assert kept["histogram_distance"] < original["histogram_distance"] - 0.1  # in the reference's colours


def test_smoothing_is_an_option_of_every_one_pass_engine(decoders, content_path, style_path):
    plain = stylize(content_path, style_path, engine="adain", size=64, decoders=decoders)
    smoothed = stylize(content_path, style_path, engine="adain", size=64, decoders=decoders, smoothing=0.1)
    assert plain.options["run"]["smoothing"] == 0 and smoothed.options["run"]["smoothing"] == 0.1
    assert (image_to_tensor(plain.image) - image_to_tensor(smoothed.image)).abs().mean() > 1e-3
    with pytest.raises(InputError, match="smoothing must be between 0 and 1"):
        stylize(content_path, style_path, engine="adain", size=64, decoders=decoders, smoothing=2.0)


def test_matched_and_kept_regions_on_the_command_line(decoders, tmp_path, capsys):
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    Image.open(EXAMPLES / "tubingen.jpg").convert("RGB").resize((128, 96)).save(photo)
    Image.open(EXAMPLES / "starry_night.jpg").convert("RGB").resize((128, 101)).save(painting)
    output = tmp_path / "out.png"
    arguments = ["transfer", str(photo), str(painting), "--engine", "adain", "--decoders", decoders, "--size", "96",
                 "-q", "-o", str(output), "--save-regions"]  # fmt: skip
    assert main([*arguments, "--regions", "semantic:3", "--match-regions"]) == 0
    regions = Image.open(tmp_path / "out.regions.png")
    assert regions.size == Image.open(output).size == (96, 72)
    assert 2 <= len(regions.getcolors()) <= 3
    recipe = read_metadata(output)
    assert recipe["regions"] == "semantic:3" and recipe["match_regions"] and len(recipe["styles"]) == 1
    again = tmp_path / "again.png"
    assert main(["remake", str(output), "-q", "-o", str(again)]) == 0  # found again, and the same
    assert (image_to_tensor(Image.open(again)) - image_to_tensor(Image.open(output))).abs().max() < 2 / 255
    drawn = tmp_path / "drawn.png"
    assert main(["regions", str(photo), "--count", "3", "-o", str(drawn)]) == 0
    assert Image.open(drawn).size == (128, 96) and 2 <= len(Image.open(drawn).getcolors()) <= 3
    assert main(["regions", str(photo), "--count", "1", "-o", str(tmp_path / "none.png")]) == 2
    assert "must be 2 to 8, got 1" in capsys.readouterr().err and not (tmp_path / "none.png").exists()
    # The map just written, given back with its first region kept: the photo shows there, unpainted.
    first = regions.getpixel((0, 0))
    kept = tmp_path / "kept.png"
    assert main([*arguments[:-1], "--regions", str(tmp_path / "out.regions.png"), "--match-regions",
                 "--keep-region", "#{:02x}{:02x}{:02x}".format(*first), "-o", str(kept)]) == 0  # fmt: skip
    assert "region map is 96x72, the photo is 128x96; resized to fit" in capsys.readouterr().err
    picture, original = image_to_tensor(Image.open(kept)), image_to_tensor(Image.open(photo).resize((96, 72)))
    inside = image_to_tensor(regions.convert("RGB")).mul(255).round().eq(torch.tensor(first).view(1, 3, 1, 1))
    inside = inside.all(dim=1, keepdim=True).expand_as(picture)
    assert (picture - original).abs()[inside].mean() < 0.03 < (picture - original).abs()[~inside].mean()
    # Bad input: one line, exit 2, nothing written.
    refused = tmp_path / "refused.png"
    assert main([*arguments[:-3], "-o", str(refused), "--regions", "semantic:12", "--match-regions"]) == 2
    assert main([*arguments[:-3], "-o", str(refused), "--save-regions"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert "must be 2 to 8, got '12'" in errors[0] and "give --regions or --masks" in errors[1]
    assert not refused.exists()
