"""Any painting in one pass: AdaIN (Huang & Belongie 2017) and WCT (Li et al. 2017) with decoders trained here.

Both engines encode the photo with VGG19, move its features to the painting's statistics at a layer and decode
them back into a picture; they differ in the statistics. ``adain`` matches each channel's mean and deviation
at relu4_1, in one pass, then finishes with one whitening–colouring pass at relu1_1, which gives the picture
the painting's colours and fine grain exactly (the relu4_1 decoder alone leaves part of them off: mean style
distance 0.420 without the finish, 0.388 with it, over the twelve bench pairs). ``wct`` matches the whole
covariance (whitening and colouring) at relu4_1 and then, on the picture decoded so far, at relu1_1; the
levels between (relu3_1, relu2_1: Li et al.'s coarse-to-fine cascade) are there to choose, but each further
encode–decode pass softened the picture and took it further from the painting and the photo (mean style
distance 0.449 at content distance 1.32 with all four, 0.371 at 1.09 with two; docs/arbitrary.md).

The pipeline:

1. check the inputs (strength, sizes, levels and finish levels, that a decoder exists for every level),
2. load the photo at the working size and the styles at ``style_size``, the encoder and decoders (cached),
3. per level: each style's statistics; the picture's features, whole or in tiles (statistics measured once
   on the whole picture, made smaller), moved to them, blended by weight or region, and decoded,
4. scale up to the output size, colour preservation,
5. return the picture with its timings and the options that made it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import torch
from torch.nn import functional

from stylegram.cpu import ThreadSchedule, memory_format
from stylegram.engines.base import (
    ProgressCallback,
    ProgressEvent,
    Request,
    Result,
    check_fraction,
    check_pixels,
    check_request,
    layout_option,
    picture_size,
    request_record,
    strength_of,
    tile_option,
)
from stylegram.engines.regions import content_regions, keep_photo, region_map, resolve_regions, style_region
from stylegram.engines.registry import EngineInfo, option, parse_names, parse_whole, register
from stylegram.errors import InputError
from stylegram.features.encoder import VGGEncoder
from stylegram.io.image import fit_long_side, image_to_tensor, load_deep, load_image, resize
from stylegram.models.decoder import DECODER_LAYERS, Decoder, pad_to_multiple
from stylegram.models.store import load_decoder, shipped_decoders
from stylegram.ops.color import finish, match_color
from stylegram.ops.feature_transforms import (
    FeatureMap,
    FeatureStatistics,
    feature_statistics,
    statistics_map,
    transfer,
)
from stylegram.ops.smoothing import LocalAffine, fit_local_affine
from stylegram.ops.tiling import plan_tiles, statistics_copy
from stylegram.runtime import (
    LAYOUTS,
    choose_inference_tile,
    choose_layout,
    choose_precision,
    precision_name,
    resolve_device,
)
from stylegram.version import __version__

#: Long side at which the features are transformed and decoded by default; the picture is then scaled to the
#: output size. At 1024×768 a whole AdaIN pass (VGG19 to relu4_1 and back) takes 1.6 s on a 2-core CPU in bf16,
#: at 512 px a quarter of that (bench/arbitrary.py); None works at the output size.
DEFAULT_WORK_SIZE = 512
DEFAULT_STYLE_SIZE = 512
#: Style images are scaled to ``style_size``; smaller than this they have too few positions at relu4_1 to
#: have statistics at all.
MIN_STYLE_SIDE = 16
#: Peak bytes per pixel of an encode–decode pass to relu4_1 in float32; a picture whose pass would not fit in the
#: memory free goes in tiles (``choose_inference_tile``).
PASS_BYTES_PER_PIXEL = 1500
TILE_OVERLAP = 128
#: VGG19 pools three times before relu4_1: sides are padded to a multiple of this.
MULTIPLE = 8


def _whole_or_output(text: str) -> int | None:
    """``--work-size`` text: a number of pixels, 0 for the output size."""
    return parse_whole(text, "work size") or None


@dataclass
class ArbitraryOptions:
    """Options of the one-pass engines (AdaIN, WCT, EFDM, photo); each field's help is in its metadata."""

    work_size: int | None = option(
        DEFAULT_WORK_SIZE,
        "long side the features are transformed and decoded at, then scaled to the output size (0: at the output size)",
        parse=_whole_or_output,
    )
    style_size: int = option(
        DEFAULT_STYLE_SIZE, "long side the style images are scaled to: the strokes come out at this scale"
    )
    levels: tuple[str, ...] | None = option(
        None,
        "layers transformed, deepest first (default: relu4_1; wct: relu4_1,relu1_1; photo: relu3_1,relu2_1,relu1_1)",
        parse=parse_names,
    )
    finish_levels: tuple[str, ...] | None = option(
        None,
        "shallower layers whitened and coloured afterwards (default: adain, efdm relu1_1; '' none)",
        parse=parse_names,
    )
    layout: str = layout_option()
    tile_size: int | None = tile_option()
    decoders: str | None = option(None, "a folder of your own decoders, <layer>.safetensors (stylegram train-decoder)")
    smoothing: float | None = option(
        None,
        "photorealistic smoothing, its window as a fraction of the work size: the picture re-expressed as locally "
        "affine functions of the photo's colours (default: photo 0.0625, the others 0, none)",
        metavar="0-1",
    )


DEFAULT_LEVELS = {
    "adain": ("relu4_1",),
    "wct": ("relu4_1", "relu1_1"),
    "efdm": ("relu4_1",),
    # The look of a photo lies in its colours and tones, which the shallow levels carry; relu4_1 (and its
    # decoder, trained with a style term) paints strokes.
    "photo": ("relu3_1", "relu2_1", "relu1_1"),
}
DEFAULT_FINISH_LEVELS = {"adain": ("relu1_1",), "wct": (), "efdm": ("relu1_1",), "photo": ()}
#: Windows of 1/16 of the working side (32 px at 512) keep the transfer's look, broad shading included, and
#: leave its blotches out (smaller ones let them through in flat skies; docs/photoreal.md).
DEFAULT_SMOOTHING = {"adain": 0.0, "wct": 0.0, "efdm": 0.0, "photo": 1 / 16}
#: The smoothing's ridge term (the guided filter's ε, in 0..1 colour units squared). Nine validation pairs,
#: with the colour map after it: ε 1e-2, 3e-3, 1e-3 gave structure SSIM 0.793, 0.790, 0.782 and relu1_1–relu3_1
#: Gram distance to the reference 0.399, 0.384, 0.376 (docs/photoreal.md).
SMOOTHING_EPS = 3e-3
#: The smoothing's maps are fitted at no more than this long side (they vary slowly) and applied to the photo
#: at the output size.
SMOOTHING_FIT_SIDE = 256
#: A reference photo smaller than this has too few positions at relu3_1 for a look of its own.
MIN_REFERENCE_SIDE = 64


def check_inputs(
    request: Request, method: str
) -> tuple[ArbitraryOptions, tuple[str, ...], tuple[str, ...], dict[str, Path]]:
    """Validate a request before any work; return its options, the levels, the finish levels and the decoder
    file of every level."""
    check_request(request)
    options = request.options if request.options is not None else ArbitraryOptions()
    if not isinstance(options, ArbitraryOptions):
        raise InputError(f"the {method} engine takes ArbitraryOptions, got {type(options).__name__}")
    if options.smoothing is not None:
        check_fraction("smoothing", options.smoothing)
    check_pixels("work size", options.work_size, 64)
    check_pixels("style size", options.style_size, 64)
    check_pixels("tile size", options.tile_size, 128)
    if options.layout not in LAYOUTS:
        raise InputError(f"unknown layout {options.layout!r}; expected one of {', '.join(LAYOUTS)}")
    levels = tuple(options.levels) if options.levels is not None else DEFAULT_LEVELS[method]
    finishing = tuple(options.finish_levels) if options.finish_levels is not None else DEFAULT_FINISH_LEVELS[method]
    named = levels + finishing
    unknown = [level for level in named if level not in DECODER_LAYERS]
    if not levels or unknown:
        raise InputError(f"levels must be some of {', '.join(DECODER_LAYERS)}; got {', '.join(named) or 'none'}")
    if list(named) != sorted(set(named), key=DECODER_LAYERS.index, reverse=True):
        raise InputError(
            "levels, then finish levels, go from the deepest to the shallowest, each once (e.g. relu4_1,relu2_1)"
        )
    if options.decoders is not None:
        folder = Path(options.decoders)
        if not folder.is_dir():
            raise InputError(f"decoder folder not found: {folder}")
        available = {path.stem: path for path in folder.glob("*.safetensors")}
    else:
        available = shipped_decoders()
    missing = [level for level in named if level not in available]
    if missing:
        where = options.decoders or "this installation"
        raise InputError(f"no {missing[0]} decoder in {where} (has: {', '.join(sorted(available)) or 'none'})")
    return options, levels, finishing, {level: available[level] for level in named}


@lru_cache(maxsize=4)
def _encoder(deepest: str, device: torch.device, dtype: torch.dtype, layout: str) -> VGGEncoder:
    encoder = VGGEncoder.load(DECODER_LAYERS[: DECODER_LAYERS.index(deepest) + 1])
    return encoder.to(device=device, dtype=dtype).to_layout(layout)


@lru_cache(maxsize=8)
def _decoder(path: str, modified_ns: int, device: torch.device, dtype: torch.dtype, layout: str) -> Decoder:
    decoder, _ = load_decoder(path)
    return decoder.to(device=device, dtype=dtype, memory_format=memory_format(layout))


def load_networks(
    files: dict[str, Path], device: torch.device, dtype: torch.dtype, layout: str = "contiguous"
) -> tuple[VGGEncoder, dict[str, Decoder]]:
    """The encoder to the deepest level and a decoder per level, in ``dtype`` and ``layout`` on ``device``;
    loaded once per process (again when a decoder file changes)."""
    decoders = {}
    for level, path in files.items():
        decoders[level] = _decoder(str(path), os.stat(path).st_mtime_ns, device, dtype, layout)
        if decoders[level].layer != level:
            raise InputError(f"{path} is a {decoders[level].layer} decoder, not {level}")
    return _encoder(max(files, key=DECODER_LAYERS.index), device, dtype, layout), decoders


def _encode(encoder: VGGEncoder, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """The features of ``image`` at ``layers``, in the encoder's precision and memory layout."""
    return encoder(image.to(next(encoder.parameters()).dtype), layers)


def _decode(decoder: Decoder, features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return decoder(features)[..., :height, :width].float()


@torch.no_grad()
def stylize_level(
    image: torch.Tensor,
    level: str,
    encoder: VGGEncoder,
    decoder: Decoder,
    targets: list[FeatureStatistics],
    weights: list[float],
    strength: float,
    regions: list[torch.Tensor] | None = None,
    tile_size: int | None = None,
) -> torch.Tensor:
    """``image`` (``(1, 3, H, W)`` in 0..1) with its features at ``level`` moved to the styles' statistics and
    decoded; whole, or in feathered tiles whose statistics are measured once on the whole picture.

    Example:
        >>> from stylegram.models.decoder import Decoder
        >>> encoder = VGGEncoder.load(["relu1_1"])
        >>> decoder = Decoder("relu1_1", stages=((3,),)).eval()
        >>> style = feature_statistics(encoder(torch.rand(1, 3, 32, 32))["relu1_1"], "adain")
        >>> stylize_level(torch.rand(1, 3, 40, 52), "relu1_1", encoder, decoder, [style], [1.0], 1.0).shape
        torch.Size([1, 3, 40, 52])
    """
    height, width = image.shape[-2:]
    if tile_size is None or max(height, width) <= tile_size:
        features = _encode(encoder, pad_to_multiple(image, MULTIPLE), [level])[level]
        if regions is not None:
            regions = [pad_to_multiple(region, MULTIPLE) for region in regions]
        maps = _maps(features, targets, regions)
        return _decode(decoder, transfer(features, maps, weights, strength, regions), height, width)
    maps = _maps(_encode(encoder, statistics_copy(image), [level])[level], targets, regions)
    output = torch.zeros_like(image, dtype=torch.float32)
    for tile in plan_tiles(height, width, tile_size, min(TILE_OVERLAP, tile_size // 4)):
        crop = tile.crop(image)
        features = _encode(encoder, pad_to_multiple(crop, MULTIPLE), [level])[level]
        tile_regions = None
        if regions is not None:
            tile_regions = [pad_to_multiple(tile.crop(region), MULTIPLE) for region in regions]
        moved = transfer(features, maps, weights, strength, tile_regions)
        tile.crop(output).add_(_decode(decoder, moved, tile.height, tile.width) * tile.weight.to(output.device))
    return output


def _maps(
    features: torch.Tensor, targets: list[FeatureStatistics], regions: list[torch.Tensor] | None
) -> list[FeatureMap]:
    """Per style, the map from the photo's statistics (in the style's region, if any) to the style's."""
    if regions is None:
        source = feature_statistics(features, targets[0].method)
        return [statistics_map(source, target) for target in targets]
    return [
        statistics_map(feature_statistics(features, target.method, region), target)
        for target, region in zip(targets, regions, strict=True)
    ]


def smooth_onto(photo: torch.Tensor, picture: torch.Tensor, smoothing: float) -> LocalAffine:
    """The locally affine maps from ``photo``'s colours to ``picture``'s (same size), in windows of
    ``smoothing`` × the long side, fitted at no more than ``SMOOTHING_FIT_SIDE``."""
    height, width = picture.shape[-2:]
    scale = min(1.0, SMOOTHING_FIT_SIDE / max(height, width))
    if scale < 1:
        fit_size = (max(1, round(height * scale)), max(1, round(width * scale)))
        photo = functional.interpolate(photo, size=fit_size, mode="area")
        picture = functional.interpolate(picture, size=fit_size, mode="area")
    radius = max(1, round(smoothing * max(photo.shape[-2:])))
    return fit_local_affine(photo.float(), picture.float(), radius, SMOOTHING_EPS)


class StatisticsCache:
    """The statistics of the last paintings used, kept so that the next picture in the same style (a batch, a
    video, a live stream, the web page's next try) does not encode the painting again.

    A painting is known by the digest of its pixels at the style size and of its region mask, with the levels,
    methods, precision and memory layout they were taken in: any difference is a different entry.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, list[FeatureStatistics]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(tensor: torch.Tensor, mask: torch.Tensor | None, *details: object) -> tuple:
        digest = hashlib.sha1(tensor.detach().cpu().numpy().tobytes())
        if mask is not None:
            digest.update(mask.detach().float().cpu().numpy().tobytes())
        return (digest.hexdigest(), tuple(tensor.shape), *details)

    def get(self, key: tuple) -> list[FeatureStatistics] | None:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            return self._entries.get(key)

    def put(self, key: tuple, statistics: list[FeatureStatistics]) -> None:
        with self._lock:
            self._entries[key] = statistics
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


_statistics_cache = StatisticsCache()


def style_targets(
    encoder: VGGEncoder, tensor: torch.Tensor, mask: torch.Tensor | None, plan: Sequence[tuple[str, str]]
) -> list[FeatureStatistics]:
    """A painting's statistics for each ``(level, method)`` of ``plan``, from the cache or encoded now."""
    parameter = next(encoder.parameters())
    key = StatisticsCache.key(tensor, mask, tuple(plan), parameter.dtype, encoder.memory_format)
    targets = _statistics_cache.get(key)
    if targets is None:
        features = _encode(encoder, tensor, sorted({level for level, _ in plan}, key=DECODER_LAYERS.index))
        targets = [feature_statistics(features[level], method, mask) for level, method in plan]
        _statistics_cache.put(key, targets)
    return targets


class _ArbitraryEngine:
    """The pipeline the one-pass engines share; ``method`` names the statistics moved."""

    info: ClassVar[EngineInfo]
    method: ClassVar[str]

    def run(self, request: Request, on_progress: ProgressCallback | None = None) -> Result:
        started = time.perf_counter()
        # 1. Check the inputs.
        options, levels, finishing, files = check_inputs(request, self.info.name)
        plan = [(level, self.method) for level in levels] + [(level, "wct") for level in finishing]
        strength = strength_of(request, self.info)
        smoothing = DEFAULT_SMOOTHING[self.info.name] if options.smoothing is None else options.smoothing
        device = resolve_device(request.device)
        threads = ThreadSchedule(request.threads)
        threads.fit(1)

        # 2. The photo, the styles, the networks.
        photo = load_image(request.content, what="content image")
        size = picture_size(photo.size, request.size, "content image", device)
        work = picture_size(size, min(options.work_size, max(size)), "content image") if options.work_size else size
        content = image_to_tensor(resize(photo, size)).to(device)
        picture = image_to_tensor(resize(photo, work)).to(device) if work != size else content
        photo_at_work = picture
        painted = resolve_regions(request, photo)
        styles = []
        for index, spec in enumerate(painted.styles, start=1):
            what = f"{self.info.style_noun} {index}"
            image = load_image(spec.image, what=what)
            if min(image.size) < self.info.min_style_side:
                raise InputError(
                    f"{what} is {image.width}x{image.height}; it needs at least {self.info.min_style_side} px a side"
                )
            tensor = image_to_tensor(resize(image, fit_long_side(image.size, options.style_size))).to(device)
            styles.append((tensor, style_region(spec, image, index)))
        regions = content_regions(painted, photo, work)
        regions = [region.to(device) for region in regions] if regions is not None else None
        weights = [spec.weight for spec in painted.styles]
        dtype = choose_precision(request.precision, device) or torch.float32
        layout = choose_layout(options.layout, device, inference=True)
        encoder, decoders = load_networks(files, device, dtype, layout)
        tile_size = choose_inference_tile(work, device, options.tile_size, PASS_BYTES_PER_PIXEL)
        setup_s = time.perf_counter() - started

        # 3. Level by level, deepest first.
        with torch.no_grad():
            style_statistics = [style_targets(encoder, tensor, mask, plan) for tensor, mask in styles]
            for step, (level, _) in enumerate(plan, start=1):
                targets = [statistics[step - 1] for statistics in style_statistics]
                picture = stylize_level(
                    picture, level, encoder, decoders[level], targets, weights, strength, regions, tile_size
                ).clamp(0, 1)
                if on_progress is not None:
                    on_progress(ProgressEvent(step, len(plan), "stylize", {}, time.perf_counter() - started))
        network_s = time.perf_counter() - started - setup_s

        # 4. Smoothing, output size and colour.
        if smoothing > 0:
            # Applied to the photo at the output size, at 16 bits where the file has them.
            deep = load_deep(request.content, size)
            guide = deep.to(device) if deep is not None else content
            # The ridge term flattens low-contrast windows; one global colour map gives the picture back the
            # transfer's colour mean and covariance (bench/photoreal.py, ε 1e-2: Gram distance 0.509 → 0.399).
            picture = match_color(smooth_onto(photo_at_work, picture, smoothing).apply(guide), picture)
        elif work != size:
            picture = functional.interpolate(picture, size=content.shape[-2:], mode="bicubic", align_corners=False)
        picture = keep_photo(finish(picture.clamp(0, 1), content, request.color), content, regions)

        # 5. The result.
        record = request_record(request, self.info.name)
        record["run"] = {
            "version": __version__,
            "output_size": list(size),
            "work_size": list(work),
            "levels": list(levels),
            "finish_levels": list(finishing),
            "strength": strength,
            "decoders": {level: str(path) for level, path in files.items()},
            "precision": precision_name(dtype),
            "layout": layout,
            "tile_size": tile_size,
            "smoothing": smoothing,
            "threads": threads.changes,
        }
        return Result.of(
            picture,
            timings={"setup_s": setup_s, "network_s": network_s, "total_s": time.perf_counter() - started},
            options=record,
            regions=region_map(regions, size),
        )


#: What the one-pass engines can all do, and what strength is to them.
ONE_PASS = {
    "regions": True,
    "min_style_side": MIN_STYLE_SIDE,
    "strength_meaning": "α, the blend of the photo's features (0) with the painting's statistics (1) at every level",
}


@register
class AdainEngine(_ArbitraryEngine):
    """Any painting in one pass: the photo's relu4_1 channels take the painting's means and deviations."""

    info: ClassVar[EngineInfo] = EngineInfo(
        "adain", "AdaIN", "any painting, one pass", ArbitraryOptions, video="blend", live=True, order=20, **ONE_PASS
    )
    method: ClassVar[str] = "adain"


@register
class WctEngine(_ArbitraryEngine):
    """Any painting in one pass per level: whitening and colouring of the features at relu4_1, then relu1_1."""

    # At full strength WCT piles up texture until the deep statistics drift from the painting's again (twelve
    # bench pairs, relu4_1 and relu1_1: mean style distance 0.393, 0.371, 0.365, 0.374 at α 0.7, 0.8, 0.9, 1 for
    # content distance 1.00, 1.09, 1.18, 1.25); 0.8 takes most of the gain for the least of the photo.
    info: ClassVar[EngineInfo] = EngineInfo(
        "wct", "WCT", "any painting, finer texture", ArbitraryOptions, video="blend", live=True,
        default_strength=0.8, order=21, **ONE_PASS,
    )  # fmt: skip
    method: ClassVar[str] = "wct"


@register
class EfdmEngine(_ArbitraryEngine):
    """Any painting in one pass: each relu4_1 channel takes the painting's whole distribution of values."""

    info: ClassVar[EngineInfo] = EngineInfo(
        "efdm", "EFDM", "any painting, one pass, each channel's whole distribution", ArbitraryOptions,
        video="blend", live=True, order=22, **ONE_PASS,
    )  # fmt: skip
    method: ClassVar[str] = "efdm"


@register
class PhotoEngine(_ArbitraryEngine):
    """A photo's look on another photo, kept photographic: whitening and colouring at relu3_1, relu2_1 and
    relu1_1 through reconstruction decoders, then the picture re-expressed as locally affine functions of the
    photo's colours (Li et al. 2018's smoothing step, as a guided filter), applied at the photo's full size and
    bit depth."""

    info: ClassVar[EngineInfo] = EngineInfo(
        "photo", "Photo", "a reference photo's look, kept photographic", ArbitraryOptions,
        style_noun="reference photo", order=30, **(ONE_PASS | {"min_style_side": MIN_REFERENCE_SIDE}),
    )  # fmt: skip
    method: ClassVar[str] = "wct"
