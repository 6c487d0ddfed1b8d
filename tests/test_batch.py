"""Batches: planning, resuming, a bad photo among good ones, stopping between items, the manifest, the CLI."""

import json

import pytest
from PIL import Image

from stylegram.batch import MANIFEST, plan_batch, stylize_batch
from stylegram.cli.main import main
from stylegram.errors import InputError
from stylegram.io.image import read_metadata


@pytest.fixture
def photos(tmp_path, content_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, size in (("a", (64, 48)), ("b", (48, 64))):
        Image.open(content_path).resize(size).save(folder / f"{name}.png")
    return folder


def test_every_photo_meets_every_style_under_the_pattern(tmp_path, photos, style_path):
    items = plan_batch([photos], [str(style_path), "starry_night"], tmp_path)
    assert [item.output.name for item in items] == [
        "a_style.png",
        "a_starry_night.png",
        "b_style.png",
        "b_starry_night.png",
    ]
    named = plan_batch([str(photos / "*.png")], ["mondrian"], tmp_path, pattern="{style}-{photo}.jpg")
    assert [item.output.name for item in named] == ["mondrian-a.jpg", "mondrian-b.jpg"]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"photo,style\n{photos / 'b.png'},mondrian\n")
    assert [(item.photo.name, item.style) for item in plan_batch([], [], tmp_path, pairs=pairs)] == [
        ("b.png", "mondrian")
    ]


def test_plans_that_would_lose_work_are_refused(tmp_path, photos, style_path):
    with pytest.raises(InputError, match="would both write"):
        plan_batch([photos], ["starry_night"], tmp_path, pattern="{style}.png")
    with pytest.raises(InputError, match="would overwrite an input"):
        plan_batch([photos], ["starry_night"], photos, pattern="{photo}.png")
    with pytest.raises(InputError, match="no folders in it"):
        plan_batch([photos], ["starry_night"], tmp_path, pattern="../{photo}.png")
    with pytest.raises(InputError, match="must end in one of"):
        plan_batch([photos], ["starry_night"], tmp_path, pattern="{photo}")
    with pytest.raises(InputError, match="may name only"):
        plan_batch([photos], ["starry_night"], tmp_path, pattern="{painting}.png")
    with pytest.raises(InputError, match="no photo found"):
        plan_batch([tmp_path / "missing"], ["starry_night"], tmp_path)
    with pytest.raises(InputError, match="photo and style columns"):
        (tmp_path / "bad.csv").write_text("image,painting\nx,y\n")
        plan_batch([], [], tmp_path, pairs=tmp_path / "bad.csv")


def test_a_batch_resumes_redoes_what_changed_or_is_torn_and_survives_a_bad_photo(tmp_path, photos):
    (photos / "broken.png").write_bytes(b"not a picture")
    out = tmp_path / "out"
    out.mkdir()
    items = plan_batch([photos], ["starry_night", "mondrian"], out)
    result = stylize_batch(items, engine="fast", size=32)
    assert result.counts == {"done": 4, "skipped": 0, "failed": 2}
    assert all("not an image" in item.reason for item in result.items if item.status == "failed")
    made = out / "a_starry_night.png"
    assert read_metadata(made)["content"].endswith("a.png") and Image.open(made).size == (32, 24)
    manifest = json.loads((out / MANIFEST).read_text())
    assert [entry["status"] for entry in manifest["items"]].count("done") == 4 and manifest["engine"] == "fast"

    again = stylize_batch(plan_batch([photos], ["starry_night", "mondrian"], out), engine="fast", size=32)
    assert again.counts == {"done": 0, "skipped": 4, "failed": 2}
    (out / "b_mondrian.png").write_bytes(b"torn")  # a picture left half-written by a crash elsewhere
    larger = stylize_batch(plan_batch([photos], ["starry_night"], out), engine="fast", size=40)
    assert larger.counts["done"] == 2  # another size is another request: made again
    torn = stylize_batch(plan_batch([photos], ["mondrian"], out), engine="fast", size=32)
    assert [item.status for item in torn.items if item.photo.name == "b.png"] == ["done"]
    assert Image.open(out / "b_mondrian.png").size == (24, 32)


def test_a_stop_request_is_honoured_between_items(tmp_path, photos):
    seen = []

    def on_item(item, index):
        seen.append((index, item.status))

    items = plan_batch([photos], ["starry_night", "mondrian"], tmp_path)
    result = stylize_batch(items, engine="fast", size=32, on_item=on_item, should_stop=lambda: len(seen) >= 2)
    assert result.stopped and seen == [(0, "pending"), (0, "done")]
    assert [item.status for item in result.items] == ["done", "pending", "pending", "pending"]


def test_batch_from_the_command_line(tmp_path, photos, style_path, capsys):
    out = tmp_path / "out"
    code = main(
        ["batch", str(photos), "--model", "starry_night", "--engine", "fast", "--size", "32", "-o", str(out), "-q"]
    )
    assert code == 0 and sorted(path.name for path in out.glob("*.png")) == ["a_starry_night.png", "b_starry_night.png"]
    assert "done 2, skipped 0" in capsys.readouterr().out
    code = main(["batch", str(photos), "--style", str(style_path), "--engine", "adain", "--size", "32",
                 "-o", str(out), "-q", "--work-size", "0"])  # fmt: skip
    assert code == 0 and (out / "a_style.png").is_file()
    assert main(["batch", str(photos), "--style", str(style_path), "--engine", "fast", "-o", str(out)]) == 2
    assert "give them with --model" in capsys.readouterr().err
    assert main(["batch", str(photos), "--engine", "gatys", "-o", str(out)]) == 2
    assert "at least one --style" in capsys.readouterr().err
