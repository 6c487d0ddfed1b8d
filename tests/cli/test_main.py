"""The command line, in process (fast) and once as a real console script (no traceback, exit code 2)."""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

from stylegram import __version__
from stylegram.api import remake, save_result, stylize
from stylegram.cli.main import main
from stylegram.engines.registry import parse_layers
from stylegram.io.image import read_metadata, save_image


def transfer(content, style, output, *extra):
    return main(
        [
            "transfer",
            str(content),
            str(style),
            "-o",
            str(output),
            "--size",
            "48",
            "--iterations",
            "3",
            "--quiet",
            *map(str, extra),
        ]
    )


def test_transfer_writes_image_iterates_and_metadata(tmp_path, content_path, style_path):
    output = tmp_path / "out.png"
    assert transfer(content_path, style_path, output, "--save-every", "2", "--seed", "4") == 0
    with Image.open(output) as image:
        assert image.size == (48, 36)
    metadata = read_metadata(output)
    assert metadata["seed"] == 4 and metadata["run"]["iterations"] == [3] and metadata["engine"] == "gatys"
    assert (tmp_path / "out_00002.png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "out_00002.png"]


def test_progress_bar_shows_losses(tmp_path, content_path, style_path, capsys):
    main(
        [
            "transfer",
            str(content_path),
            str(style_path),
            "-o",
            str(tmp_path / "o.png"),
            "--size",
            "48",
            "--iterations",
            "2",
        ]
    )
    err = capsys.readouterr().err
    assert ("stylize" in err and "style=" in err and "it/s" in err) or "s/it" in err
    assert "wrote" in err


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda p: ["transfer", str(p["tmp"] / "none.jpg"), p["style"], "-o", p["out"]], "content image not found"),
        (lambda p: ["transfer", p["text"], p["style"], "-o", p["out"]], "not an image"),
        (lambda p: ["transfer", p["truncated"], p["style"], "-o", p["out"]], "damaged or truncated"),
        (lambda p: ["transfer", p["bomb"], p["style"], "-o", p["out"]], "over the limit"),
        (lambda p: ["transfer", p["content"], p["style"], "-o", p["out"], "--style-weight", "-1"], "style weight"),
        (lambda p: ["transfer", p["content"], p["style"], "-o", p["out"], "--content-weight", "nan"], "content weight"),
        (lambda p: ["transfer", p["content"], p["style"] + ":-0.5", "-o", p["out"]], "weight of style 1"),
        (
            lambda p: ["transfer", p["content"], p["style"], "-o", p["out"], "--style-layers", "relu1_1,relu7_1"],
            "unknown VGG19 layer 'relu7_1'",
        ),
        (lambda p: ["transfer", p["content"], p["style"], "-o", p["out"], "--iterations", "0"], "iterations must"),
        (lambda p: ["transfer", p["content"], p["style"], "-o", str(p["tmp"] / "no" / "o.png")], "folder does not"),
        (lambda p: ["transfer", p["content"], p["style"], "-o", str(p["tmp"] / "o.xyz")], "cannot tell the format"),
        (lambda p: ["transfer", p["content"], p["style"], "-o", p["out"], "--weights", p["text"]], "weights file"),
        (lambda p: ["transfer", p["content"], p["style"], "-o", p["out"], "--device", "tpu"], "device"),
        (lambda p: ["eval", p["out"]], "give --content"),
        (lambda p: ["recolor", p["text"], "--content", p["content"], "-o", p["out"]], "picture"),
    ],
    ids=[
        "missing",
        "not-image",
        "truncated",
        "bomb",
        "negative-weight",
        "nan-weight",
        "style-weight",
        "unknown-layer",
        "zero-iterations",
        "no-folder",
        "bad-extension",
        "bad-weights",
        "bad-device",
        "eval-alone",
        "recolor-not-image",
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path, content_path, style_path, truncated_path, not_an_image_path, bomb_path, capsys, make_args, message
):
    paths = {
        "tmp": tmp_path,
        "content": str(content_path),
        "style": str(style_path),
        "out": str(tmp_path / "o.png"),
        "text": str(not_an_image_path),
        "truncated": str(truncated_path),
        "bomb": str(bomb_path),
    }
    assert main(make_args(paths)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert err.startswith("stylegram: error:") and "\n" not in err
    assert not (tmp_path / "o.png").exists()


def test_existing_output_survives_a_failed_run(tmp_path, content_path, style_path):
    output = tmp_path / "o.png"
    output.write_bytes(b"precious")
    assert transfer(content_path, style_path, output, "--style-weight", "-1") == 2
    assert output.read_bytes() == b"precious"


def test_eval_prints_a_json_line_per_output_and_diversity(content_path, style_path, capsys):
    assert (
        main(
            [
                "eval",
                "--content",
                str(content_path),
                "--style",
                str(style_path),
                "--size",
                "64",
                str(content_path),
                str(style_path),
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3
    assert lines[0]["ssim"] == pytest.approx(1.0)
    assert lines[1]["style_distance"] < lines[0]["style_distance"]
    assert lines[2]["diversity"] > 0


def test_parse_layers():
    assert parse_layers("relu1_1, relu2_1:0.5", "style") == {"relu1_1": 1.0, "relu2_1": 0.5}


def test_console_script_has_version_and_no_traceback(tmp_path, style_path):
    command = [sys.executable, "-m", "stylegram"]
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"stylegram {__version__}"
    failed = subprocess.run(
        [*command, "transfer", str(tmp_path / "absent.jpg"), str(style_path), "-o", str(tmp_path / "o.png")],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    assert failed.stderr.strip() == f"stylegram: error: content image not found: {tmp_path / 'absent.jpg'}"


def test_recolor_gives_a_picture_the_photos_colours(tmp_path, content_path, style_path):
    from stylegram.io.image import image_to_tensor, load_image
    from stylegram.ops.color import rgb_to_yiq

    output = tmp_path / "recoloured.png"
    assert main(["recolor", str(style_path), "--content", str(content_path), "-o", str(output)]) == 0
    size = load_image(style_path).size  # the photo is resized to the picture, whose size stays
    recoloured, photo, painting = (
        rgb_to_yiq(image_to_tensor(load_image(path).resize(size))) for path in (output, content_path, style_path)
    )
    # The photo's chroma and the painting's luminance, but for 8-bit rounding and the clamp to 0..1.
    assert (recoloured[:, 1:] - photo[:, 1:]).abs().mean() < 0.01
    assert (recoloured[:, 0] - painting[:, 0]).abs().mean() < 0.01
    assert (painting[:, 1:] - photo[:, 1:]).abs().mean() > 0.03


def test_transfer_preserving_colour_records_the_method(tmp_path, content_path, style_path):
    output = tmp_path / "kept.png"
    assert transfer(content_path, style_path, output, "--preserve-color", "match") == 0
    assert read_metadata(output)["color"] == "match"


def test_engine_flags_reach_the_options_parsed_and_absent_ones_keep_the_defaults():
    from stylegram.cli.main import build_parser
    from stylegram.cli.transfer import engine_options_from_args

    command = ["transfer", "c.jpg", "s.jpg", "-o", "o.png"]
    args = build_parser().parse_args([*command, "--style-layers", "relu1_1,relu2_1:0.5", "--iterations", "20,10"])
    assert engine_options_from_args(args, "gatys") == {
        "style_layers": {"relu1_1": 1.0, "relu2_1": 0.5},
        "iterations": [20, 10],
    }
    assert engine_options_from_args(build_parser().parse_args(command), "gatys") == {}
    args = build_parser().parse_args([*command, "--work-size", "0", "--levels", "relu4_1,relu1_1"])
    assert engine_options_from_args(args, "wct") == {"work_size": None, "levels": ("relu4_1", "relu1_1")}


def test_a_flag_the_chosen_engine_does_not_take_is_refused_in_one_line(tmp_path, content_path, style_path, capsys):
    output = tmp_path / "out.png"
    command = ["transfer", str(content_path), str(style_path), "-o", str(output), "--engine", "adain", "--optimizer"]
    assert main([*command, "adam"]) == 2
    assert "--optimizer is not an option of the adain engine" in capsys.readouterr().err
    assert not output.exists()


def test_the_engine_flags_help_says_what_strength_means_for_each_engine(capsys):
    with pytest.raises(SystemExit):
        main(["transfer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "fast: a blend of the network's picture (1) with the photo (0)" in text
    assert "gatys: the style weight on a log scale" in text and "--runtime {torch,onnxruntime} fast: what runs" in text
    assert "--engine {adain,wct,efdm,photo,gatys}" in text


def test_remake_makes_the_same_picture_from_its_metadata(tmp_path, content_path, style_path):
    original, again = tmp_path / "original.png", tmp_path / "again.png"
    assert transfer(content_path, style_path, original, "--seed", "7", "--strength", "0.7") == 0
    metadata = read_metadata(original)
    assert metadata["content"] == str(content_path) and metadata["strength"] == 0.7
    assert metadata["run"]["precision"] in ("fp32", "bf16")
    assert metadata["run"]["layout"] in ("contiguous", "channels_last")
    assert main(["remake", str(original), "-o", str(again), "--quiet"]) == 0
    with Image.open(original) as first, Image.open(again) as second:
        assert first.tobytes() == second.tobytes()


def test_remake_sums_with_the_thread_counts_of_the_original_whatever_the_load(
    tmp_path, content_path, style_path, monkeypatch, capsys
):
    # A parallel sum splits its work by the thread count, so a load that changes the count mid-run changes the
    # picture's last bits: the original's counts are recorded, and the remake uses them, not today's load.
    from stylegram import cpu

    def fitted_to(load):
        def fit() -> int:
            torch.set_num_threads(load.pop(0) if len(load) > 1 else load[0])
            return torch.get_num_threads()

        return fit

    def counts_at_steps(run):
        seen = []
        run(lambda event: seen.append(torch.get_num_threads()))
        return seen

    before = torch.get_num_threads()
    original, again = tmp_path / "original.png", tmp_path / "again.png"
    try:
        # Two calls before the first step (the setup, the scale's targets), then one a step.
        monkeypatch.setattr(cpu, "fit_threads", fitted_to([2, 2, 2, 1, 1, 2]))
        results = []
        made = counts_at_steps(
            lambda on_progress: results.append(
                stylize(content_path, style_path, size=48, iterations=5, seed=3, on_progress=on_progress)
            )
        )
        save_result(results[0], original)
        assert read_metadata(original)["run"]["threads"] == [[1, 2], [2, 1], [4, 2]]
        assert made == [2, 1, 1, 2, 2]
        monkeypatch.setattr(cpu, "fit_threads", fitted_to([1]))  # the machine busy now
        remade = counts_at_steps(lambda on_progress: remake(original, on_progress=on_progress))
        assert remade == made
    finally:
        torch.set_num_threads(before)
    assert main(["remake", str(original), "-o", str(again), "--quiet"]) == 0
    with Image.open(original) as first, Image.open(again) as second:
        assert first.tobytes() == second.tobytes()
    # Metadata from anywhere: counts that cannot be a run's are refused in one line.
    forged = tmp_path / "forged.png"
    recipe = read_metadata(original)
    save_image(Image.open(original), forged, metadata={**recipe, "run": {**recipe["run"], "threads": [[1, 0]]}})
    assert main(["remake", str(forged), "-o", str(tmp_path / "never.png"), "--quiet"]) == 2
    assert "threads must be [[step, count], ...]" in capsys.readouterr().err


def test_remake_keeps_the_layout_the_original_run_chose(tmp_path, content_path, style_path):
    original = tmp_path / "original.png"
    assert transfer(content_path, style_path, original, "--layout", "channels_last", "--precision", "fp32") == 0
    result = remake(original)
    assert (result.options["run"]["layout"], result.options["run"]["precision"]) == ("channels_last", "fp32")


def test_probe_shows_the_machines_choice_and_where_it_is_kept(capsys, machine_cache):
    assert main(["probe"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["precision"] in ("fp32", "bf16") and shown["layout"] in ("contiguous", "channels_last")
    assert shown["cache"] == str(machine_cache) and (machine_cache / "cpu-probe.json").is_file()
    assert shown["threads"] >= 1 and f"torch {torch.__version__}" in shown["machine"]
    assert shown["eigh"] in ("numpy", "torch")


def test_remake_refuses_pictures_it_cannot_remake(tmp_path, content_path, style_path, capsys):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert main(["remake", str(plain), "-o", str(tmp_path / "x.png")]) == 2
    assert "has no stylegram metadata" in capsys.readouterr().err
    moved_style = tmp_path / "style.png"
    moved_style.write_bytes(style_path.read_bytes())
    made = tmp_path / "made.png"
    assert transfer(content_path, moved_style, made) == 0
    moved_style.unlink()
    assert main(["remake", str(made), "-o", str(tmp_path / "x.png")]) == 2
    assert f"was made from {moved_style}, which is no longer there" in capsys.readouterr().err


def test_region_options_on_the_command_line(tmp_path, content_path, style_path, capsys):
    label_map = Image.new("RGB", (32, 24), "red")
    label_map.paste((0, 0, 255), (0, 0, 16, 24))
    map_path = tmp_path / "map.png"
    label_map.save(map_path)
    output = tmp_path / "out.png"

    def two_styles(*extra):
        arguments = ["transfer", content_path, style_path, style_path, "-o", output, "--size", 48, "--iterations", 2]
        return main([*map(str, arguments), "--quiet", *map(str, extra)])

    assert two_styles("--regions", map_path, "--region-colors", "red,blue") == 0
    assert "note: region map is 32x24, the photo is 64x48; resized to fit" in capsys.readouterr().err
    assert read_metadata(output)["region_colors"] == ["red", "blue"]
    assert two_styles("--regions", map_path, "--region-colors", "red,green") == 2
    assert "region colour #008000 of style 2 is not in the map" in capsys.readouterr().err
    assert two_styles("--masks", map_path) == 2
    assert "1 masks given for 2 styles" in capsys.readouterr().err
    top_of_painting = tmp_path / "top.png"
    Image.new("L", (64, 20), 255).crop((0, 0, 64, 51)).save(top_of_painting)
    assert two_styles("--regions", "auto", "--style-masks", top_of_painting, "-") == 0
    assert read_metadata(output)["styles"][0]["style_mask"] == str(top_of_painting)
