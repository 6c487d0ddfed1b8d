"""The Gatys engine on 64x48 real images with the real VGG19: each run takes about a second."""

import numpy as np
import pytest
from PIL import Image

from stylegram import cpu
from stylegram.api import build_request
from stylegram.engines import ProgressEvent, Request, StyleSpec, get_engine
from stylegram.engines.gatys import GatysOptions, plan_scales
from stylegram.errors import InputError
from stylegram.evaluation import evaluate


def run(content, style, *, on_progress=None, size=64, seed=0, **options):
    request = build_request(content, style, engine="gatys", size=size, seed=seed, **options)
    return get_engine("gatys").run(request, on_progress)


def test_short_run_lowers_style_loss_and_keeps_content(content_path, style_path):
    result = run(content_path, style_path, iterations=40)
    first, best = result.losses[0], result.losses[result.best_step - 1]
    assert best["style"] < 0.5 * first["style"]
    assert result.image.size == (64, 48)
    figures = evaluate([result.image, content_path], content=content_path, style=style_path, size=64).outputs
    stylized, photo = figures
    assert stylized["style_distance"] < photo["style_distance"]
    assert stylized["ssim"] > 0.2  # the photo's structure is still there


def test_best_iterate_is_returned_not_the_last(content_path, style_path):
    previews: dict[int, Image.Image] = {}

    def keep(event: ProgressEvent) -> None:
        previews[event.step] = event.preview

    # Adam with a step this large overshoots, so the last iterate is not the best one.
    result = run(
        content_path, style_path, iterations=12, optimizer="adam", learning_rate=0.5, preview_every=1, on_progress=keep
    )
    totals = [losses["total"] for losses in result.losses]
    assert result.best_step == int(np.argmin(totals)) + 1
    assert result.best_step != len(totals)
    assert np.array_equal(np.asarray(result.image), np.asarray(previews[result.best_step]))


def test_progress_events_count_every_step(content_path, style_path):
    events: list[ProgressEvent] = []
    result = run(content_path, style_path, iterations=5, on_progress=events.append)
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    assert all(e.total == 5 and e.stage == "scale 1/1 64x48" and e.preview is None for e in events)
    assert set(events[0].losses) == {"content", "style", "tv", "total"}
    assert events[-1].elapsed_s >= events[0].elapsed_s
    assert len(result.losses) == 5


@pytest.fixture
def fixed_threads(monkeypatch):
    """Float sums depend on the thread count, which otherwise follows the machine's load from step to step."""
    monkeypatch.setattr(cpu, "_pinned_threads", lambda: 1)


def test_seed_makes_noise_runs_repeatable(content_path, style_path, fixed_threads):
    first = run(content_path, style_path, iterations=4, init="noise", seed=7)
    again = run(content_path, style_path, iterations=4, init="noise", seed=7)
    other = run(content_path, style_path, iterations=4, init="noise", seed=8)
    assert first.image.tobytes() == again.image.tobytes()
    assert first.image.tobytes() != other.image.tobytes()


@pytest.mark.parametrize("init", ["content", "noise", "style", "image"])
def test_each_init_starts_where_asked(content_path, style_path, init):
    start = content_path if init == "image" else init
    result = run(
        content_path, style_path, iterations=1, init=start, content_weight=0.0, style_weight=0.0, tv_weight=0.0
    )
    image = np.asarray(result.image, dtype=np.float64)
    photo = np.asarray(Image.open(content_path), dtype=np.float64)
    if init in ("content", "image"):
        assert np.abs(image - photo).max() <= 1
    else:
        assert np.abs(image - photo).mean() > 20


def test_interrupt_returns_best_so_far(content_path, style_path):
    def stop_at_three(event: ProgressEvent) -> None:
        if event.step == 3:
            raise KeyboardInterrupt

    result = run(content_path, style_path, iterations=50, on_progress=stop_at_three)
    assert result.interrupted
    assert len(result.losses) == 3
    assert result.image.size == (64, 48)


def test_options_are_recorded(content_path, style_path):
    result = run(content_path, style_path, iterations=2, style_weight=3.0, seed=5)
    assert result.options["engine"] == "gatys"
    assert result.options["style_weight"] == 3.0
    assert result.options["seed"] == 5
    assert result.options["run"]["output_size"] == [64, 48]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"iterations": 0}, "iterations must be"),
        ({"iterations": [3, 0]}, "iterations must be"),
        ({"scales": [256, 128]}, "smallest first"),
        ({"quality": "ultra"}, "unknown quality"),
        ({"content_weight": -1.0}, "content weight must be a finite non-negative"),
        ({"style_weight": float("nan")}, "style weight must be a finite"),
        ({"tv_weight": float("inf")}, "tv weight must be a finite"),
        ({"style_layers": {"relu9_1": 1.0}}, "unknown VGG19 layer 'relu9_1'"),
        ({"content_layers": {}}, "at least one content layer"),
        ({"style_layers": {"relu1_1": -2.0}}, "weight of style layer relu1_1"),
        ({"optimizer": "sgd"}, "unknown optimizer"),
        ({"init": "no/such/file.png"}, "init must be one of"),
        ({"learning_rate": 0.0}, "learning rate must be a finite positive"),
    ],
)
def test_bad_options_are_refused_before_work(content_path, style_path, options, message):
    with pytest.raises(InputError, match=message):
        run(content_path, style_path, **options)


def test_bad_request_values(content_path, style_path):
    engine = get_engine("gatys")
    with pytest.raises(InputError, match="at least one style"):
        engine.run(Request(content=content_path, styles=[]))
    with pytest.raises(InputError, match="weight of style 1 must be a finite positive"):
        engine.run(Request(content=content_path, styles=[StyleSpec(style_path, 0.0)]))
    with pytest.raises(InputError, match="size must be"):
        engine.run(Request(content=content_path, styles=[StyleSpec(style_path)], size=8))
    with pytest.raises(InputError, match="unknown engine"):
        get_engine("picasso")


def test_pyramid_halves_down_to_the_coarsest_scale():
    assert plan_scales((4096, 2731), GatysOptions(quality="draft")) == [
        ((256, 171), 16),
        ((512, 341), 5),
        ((1024, 683), 4),
        ((2048, 1366), 4),
        ((4096, 2731), 4),
    ]
    assert plan_scales((399, 300), GatysOptions()) == [((399, 300), 30)]
    assert plan_scales((64, 48), GatysOptions(quality="high")) == [((64, 48), 150)]
    assert plan_scales((300, 200), GatysOptions(scales=[100, 200], iterations=[5, 4, 3])) == [
        ((100, 67), 5),
        ((200, 133), 4),
        ((300, 200), 3),
    ]
    with pytest.raises(InputError, match="2 iteration counts given for 3 scales"):
        plan_scales((300, 200), GatysOptions(scales=[100, 200], iterations=[5, 4]))


def test_coarse_to_fine_refines_the_upsampled_coarse_result(content_path, style_path):
    events: list[ProgressEvent] = []
    result = run(content_path, style_path, size=96, scales=[48], iterations=[20, 4], on_progress=events.append)
    assert [e.stage for e in events] == ["scale 1/2 48x36"] * 20 + ["scale 2/2 96x72"] * 4
    assert all(e.total == 24 for e in events)
    assert result.image.size == (96, 72)
    assert result.best_step > 20  # the best image comes from the last scale
    assert [scale["size"] for scale in result.timings["scales"]] == [[48, 36], [96, 72]]
    # The second scale starts from the stylized coarse picture: its first loss is far below a fresh start's.
    fresh = run(content_path, style_path, size=96, scales=[96], iterations=1)
    assert events[20].losses["style"] < 0.8 * fresh.losses[0]["style"]


def test_interrupt_in_a_coarse_scale_still_returns_the_output_size(content_path, style_path):
    def stop(event: ProgressEvent) -> None:
        if event.step == 2:
            raise KeyboardInterrupt

    result = run(content_path, style_path, size=96, scales=[48], iterations=[10, 10], on_progress=stop)
    assert result.interrupted and result.image.size == (96, 72)


def test_precision_choice_is_recorded(content_path, style_path):
    assert run(content_path, style_path, iterations=1, precision="fp32").options["run"]["precision"] == "fp32"
    with pytest.raises(InputError, match="unknown precision"):
        run(content_path, style_path, precision="fp8")


def test_tiled_run_lowers_the_style_loss_like_a_whole_one(content_path, style_path):
    whole = run(content_path, style_path, size=96, scales=[96], iterations=15)
    tiled = run(content_path, style_path, size=96, scales=[96], iterations=15, tile_size=64)
    assert [scale["tiles"] for scale in tiled.timings["scales"]] == [4]
    assert [scale["tiles"] for scale in whole.timings["scales"]] == [1]
    assert tiled.image.size == whole.image.size == (96, 72)
    first, best = tiled.losses[0], tiled.losses[tiled.best_step - 1]
    assert best["style"] < 0.5 * first["style"]
    assert best["total"] < 1.5 * whole.losses[whole.best_step - 1]["total"]


def test_first_step_at_a_finer_scale_is_not_wasted(content_path, style_path):
    # torch's L-BFGS would start a fresh optimiser with a step of ~1/‖g‖₁, leaving the loss as it was; the
    # curvature carried over from the coarser scale makes the first fine step count.
    losses = run(content_path, style_path, size=96, scales=[48], iterations=[15, 3]).losses
    first_fine, second_fine = losses[15]["total"], losses[16]["total"]
    assert second_fine < 0.95 * first_fine


def colour_distances(image, photo) -> tuple[float, float]:
    """Per-pixel chroma difference (mean |ΔI| + |ΔQ|) and the distance between the mean colours (RGB)."""
    from stylegram.io.image import image_to_tensor, load_image
    from stylegram.ops.color import rgb_to_yiq

    a, b = (image_to_tensor(load_image(picture)) for picture in (image, photo))
    chroma = float((rgb_to_yiq(a)[:, 1:] - rgb_to_yiq(b)[:, 1:]).abs().mean())
    mean_colour = float((a.mean(dim=(2, 3)) - b.mean(dim=(2, 3))).norm())
    return chroma, mean_colour


def test_colour_preservation_keeps_the_photos_colours(content_path, style_path):
    plain = colour_distances(run(content_path, style_path, iterations=20).image, content_path)
    luminance = run(content_path, style_path, iterations=20, color="luminance")
    matched = colour_distances(run(content_path, style_path, iterations=20, color="match").image, content_path)
    assert colour_distances(luminance.image, content_path)[0] < 0.25 * plain[0]
    assert matched[1] < 0.5 * plain[1]
    assert luminance.options["color"] == "luminance"


def test_strength_runs_from_photo_to_painting(content_path, style_path):
    faint, strong = (run(content_path, style_path, iterations=20, strength=s) for s in (0.0, 1.0))
    assert faint.options["run"]["style_weight"] == pytest.approx(0.05)
    assert strong.options["run"]["style_weight"] == pytest.approx(500.0)
    figures = evaluate([faint.image, strong.image], content=content_path, style=style_path, size=64).outputs
    assert figures[0]["content_distance"] < figures[1]["content_distance"]
    assert figures[0]["style_distance"] > figures[1]["style_distance"]
    with pytest.raises(InputError, match="strength must be between 0 and 1"):
        run(content_path, style_path, strength=1.5)


def test_style_scale_sizes_the_painting_relative_to_the_output(content_path, style_path):
    assert run(content_path, style_path, iterations=1, style_scale=2.0).options["run"]["style_size"] == 128
    fixed = run(content_path, style_path, iterations=1, style_scale=0.5, style_size=100)
    assert fixed.options["run"]["style_size"] == 100
    with pytest.raises(InputError, match="style scale must be a finite positive"):
        run(content_path, style_path, style_scale=0.0)


def test_palette_init_starts_closer_to_the_painting(content_path, style_path):
    palette, photo = (
        run(content_path, style_path, iterations=1, init=init).losses[0] for init in ("palette", "content")
    )
    assert palette["style"] < 0.9 * photo["style"]
    assert photo["content"] == 0 < palette["content"]


def test_region_styles_stay_in_their_regions(tmp_path, content_path, style_path):
    stripes = Image.new("RGB", (64, 48), "gold")
    for row in range(0, 48, 8):
        stripes.paste((200, 0, 0), (0, row, 64, row + 4))
    left = Image.new("L", (64, 48), 0)
    left.paste(255, (0, 0, 32, 48))
    left_path = tmp_path / "left.png"
    left.save(left_path)
    right = Image.eval(left, lambda value: 255 - value)
    request = Request(
        content=content_path,
        styles=[StyleSpec(style_path, mask=left), StyleSpec(stripes, mask=right)],
        size=64,
        options=GatysOptions(iterations=30),
    )
    result = get_engine("gatys").run(request)
    starry = evaluate([result.image], style=style_path, mask=left_path).outputs[0]
    striped = evaluate([result.image], style=stripes, mask=left_path).outputs[0]
    assert starry["style_distance_in_mask"] < starry["style_distance_outside_mask"]
    assert striped["style_distance_outside_mask"] < striped["style_distance_in_mask"]
    assert result.options["styles"][1]["mask"] == "<image 64x48>"


def test_same_request_gives_the_same_image_bit_for_bit(content_path, style_path, fixed_threads):
    first, second = (run(content_path, style_path, iterations=8, seed=3, init="noise") for _ in range(2))
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert first.losses == second.losses
    other_seed = run(content_path, style_path, iterations=8, seed=4, init="noise")
    assert not np.array_equal(np.asarray(first.image), np.asarray(other_seed.image))
