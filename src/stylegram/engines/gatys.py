"""Gatys et al. (2016): optimise the pixels of an image so its VGG19 features match the photo's content and
the painting's Gram statistics.

The pipeline reads top to bottom:

1. check the inputs (before any work),
2. load the images at their working sizes,
3. build the encoder and the content and style targets (computed once),
4. initialise the image (content, noise, the style image or a given image),
5. optimise with L-BFGS or Adam, reporting progress and keeping the best iterate,
6. return the best image with its loss history and timings.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.nn import functional

from stylegram import __version__
from stylegram.engines.base import (
    ProgressCallback,
    ProgressEvent,
    Request,
    Result,
    check_request,
    check_weight,
    register,
    request_record,
    resolve_device,
)
from stylegram.errors import InputError
from stylegram.features.encoder import VGGEncoder
from stylegram.features.vgg import check_layers
from stylegram.io.image import fit_long_side, image_to_tensor, load_image, resize, tensor_to_image
from stylegram.ops.gram import gram_matrix
from stylegram.ops.losses import content_loss, style_loss, total_variation_loss

DEFAULT_CONTENT_LAYERS = {"relu4_2": 1.0}
DEFAULT_STYLE_LAYERS = {"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 1.0}
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")


@dataclass
class GatysOptions:
    """Options of the optimisation engine.

    Attributes:
        iterations: optimiser steps (one loss evaluation each).
        optimizer: ``"lbfgs"`` (fast convergence, the classic) or ``"adam"``.
        learning_rate: Adam's step size in 0..1 pixel units (L-BFGS always uses 1).
        content_weight: α, the weight of the content loss.
        style_weight: β, the weight of the style loss.
        tv_weight: weight of the total-variation smoothness term.
        content_layers: content layers and their weights.
        style_layers: style layers and their weights.
        init: ``"content"``, ``"noise"``, ``"style"``, or an image (path or PIL) to start from.
        style_size: long side of the style image while its statistics are taken; None matches the output's.
        pooling: VGG19 pooling, ``"max"`` or ``"avg"``.
        weights: path to the user's own VGG19 weights; None uses the shipped ones.
        weights_preprocessing: override the input convention of ``weights`` (``caffe``/``torchvision``).
        preview_every: attach the current image to every N-th progress event (0: never).
    """

    iterations: int = 300
    optimizer: str = "lbfgs"
    learning_rate: float = 0.02
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 5e-4
    content_layers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CONTENT_LAYERS))
    style_layers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STYLE_LAYERS))
    init: Any = "content"
    style_size: int | None = None
    pooling: str = "max"
    weights: str | None = None
    weights_preprocessing: str | None = None
    preview_every: int = 0


def check_inputs(request: Request) -> GatysOptions:
    """Validate a request for this engine before any work is done; return its options (defaults filled in)."""
    check_request(request)
    options = request.options if request.options is not None else GatysOptions()
    if not isinstance(options, GatysOptions):
        raise InputError(f"the gatys engine takes GatysOptions, got {type(options).__name__}")
    if not isinstance(options.iterations, int) or options.iterations < 1:
        raise InputError(f"iterations must be a whole number of at least 1, got {options.iterations!r}")
    if options.optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {options.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    check_weight("learning rate", options.learning_rate, allow_zero=False)
    check_weight("content weight", options.content_weight)
    check_weight("style weight", options.style_weight)
    check_weight("tv weight", options.tv_weight)
    for kind, layers in (("content", options.content_layers), ("style", options.style_layers)):
        if not layers:
            raise InputError(f"at least one {kind} layer is needed")
        check_layers(layers)
        for name, weight in layers.items():
            check_weight(f"weight of {kind} layer {name}", weight)
    if isinstance(options.init, str | PathLike) and options.init not in INITS and not Path(options.init).is_file():
        raise InputError(f"init must be one of {', '.join(INITS)} or an image file; not found: {options.init}")
    if options.style_size is not None and (not isinstance(options.style_size, int) or options.style_size < 32):
        raise InputError(f"style size must be a whole number of pixels, at least 32, got {options.style_size!r}")
    if not isinstance(options.preview_every, int) or options.preview_every < 0:
        raise InputError(f"preview_every must be a non-negative whole number, got {options.preview_every!r}")
    return options


class StyleTransferLoss(torch.nn.Module):
    """α·content + β·style + tv, from one encoder pass; style targets are weight-blended Gram matrices."""

    def __init__(self, encoder: VGGEncoder, options: GatysOptions) -> None:
        super().__init__()
        self.encoder = encoder
        self.options = options
        self.content_targets: dict[str, torch.Tensor] = {}
        self.style_targets: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def set_targets(self, content: torch.Tensor, styles: list[tuple[torch.Tensor, float]]) -> None:
        features = self.encoder(content)
        self.content_targets = {name: features[name] for name in self.options.content_layers}
        total_weight = sum(weight for _, weight in styles)
        self.style_targets = {}
        for image, weight in styles:
            features = self.encoder(image)
            for name in self.options.style_layers:
                share = gram_matrix(features[name]) * (weight / total_weight)
                self.style_targets[name] = self.style_targets.get(name, 0) + share

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        options = self.options
        features = self.encoder(image)
        content = sum(w * content_loss(features[n], self.content_targets[n]) for n, w in options.content_layers.items())
        style = sum(w * style_loss(features[n], self.style_targets[n]) for n, w in options.style_layers.items())
        terms = {
            "content": options.content_weight * content,
            "style": options.style_weight * style,
            "tv": options.tv_weight * total_variation_loss(image),
        }
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


def _initial_image(init: Any, content: torch.Tensor, style: torch.Tensor, seed: int) -> torch.Tensor:
    height, width = content.shape[-2:]
    if isinstance(init, str) and init == "content":
        return content.clone()
    if isinstance(init, str) and init == "noise":
        generator = torch.Generator().manual_seed(seed)
        return (0.5 + 0.25 * torch.randn(content.shape, generator=generator)).clamp(0, 1).to(content.device)
    if isinstance(init, str) and init == "style":
        return functional.interpolate(style, size=(height, width), mode="bilinear", align_corners=False)
    image = resize(load_image(init, what="init image"), (width, height))
    return image_to_tensor(image).to(content.device)


def _make_optimizer(name: str, image: torch.Tensor, learning_rate: float) -> torch.optim.Optimizer:
    if name == "lbfgs":
        # One loss evaluation per step and no early stop on small changes: "iterations" means what it says.
        return torch.optim.LBFGS(
            [image], lr=1.0, max_iter=1, history_size=100, tolerance_grad=-1.0, tolerance_change=-1.0
        )
    return torch.optim.Adam([image], lr=learning_rate)


@register
class GatysEngine:
    """Optimisation-based style transfer (Gatys, Ecker & Bethge)."""

    name: ClassVar[str] = "gatys"
    options_type: ClassVar[type] = GatysOptions

    def run(self, request: Request, on_progress: ProgressCallback | None = None) -> Result:
        started = time.perf_counter()

        # 1. Check the inputs.
        options = check_inputs(request)
        device = resolve_device(request.device)

        # 2. Load the images at their working sizes.
        content_image = load_image(request.content, what="content image")
        size = fit_long_side(content_image.size, request.size)
        content = image_to_tensor(resize(content_image, size)).to(device)
        style_long_side = options.style_size or max(size)
        styles = []
        for index, spec in enumerate(request.styles, start=1):
            what = f"style image {index}" if len(request.styles) > 1 else "style image"
            style_image = load_image(spec.image, what=what)
            style_image = resize(style_image, fit_long_side(style_image.size, style_long_side))
            styles.append((image_to_tensor(style_image).to(device), spec.weight))

        # 3. Build the encoder and the targets.
        layers = [*options.content_layers, *options.style_layers]
        encoder = VGGEncoder.load(layers, options.weights, options.weights_preprocessing, options.pooling).to(device)
        loss_fn = StyleTransferLoss(encoder, options)
        loss_fn.set_targets(content, styles)

        # 4. Initialise the image.
        image = _initial_image(options.init, content, styles[0][0], request.seed).requires_grad_(True)
        optimizer = _make_optimizer(options.optimizer, image, options.learning_rate)
        setup_s = time.perf_counter() - started

        # 5. Optimise, keeping the best iterate.
        history: list[dict[str, float]] = []
        best = {"loss": math.inf, "image": image.detach().clone(), "step": 0}

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            terms = loss_fn(image)
            total = terms["total"]
            if not torch.isfinite(total):
                raise FloatingPointError("the loss is no longer finite")
            total.backward()
            values = {key: float(value.detach()) for key, value in terms.items()}
            history.append(values)
            step = len(history)
            if values["total"] < best["loss"]:
                best.update(loss=values["total"], image=image.detach().clone(), step=step)
            if on_progress is not None:
                wants_preview = options.preview_every and step % options.preview_every == 0
                on_progress(
                    ProgressEvent(
                        step=step,
                        total=options.iterations,
                        stage="optimize",
                        losses=values,
                        elapsed_s=time.perf_counter() - started,
                        preview=tensor_to_image(image) if wants_preview else None,
                    )
                )
            return total

        interrupted = diverged = False
        optimize_started = time.perf_counter()
        try:
            while len(history) < options.iterations:
                optimizer.step(closure)
        except KeyboardInterrupt:
            interrupted = True
        except FloatingPointError:
            diverged = True
        optimize_s = time.perf_counter() - optimize_started

        # 6. Return the best image.
        record = request_record(request, self.name)
        record.update(
            version=__version__,
            output_size=list(size),
            style_size=style_long_side,
            best_step=best["step"],
        )
        if diverged:
            record["diverged_at_step"] = len(history) + 1
        return Result(
            image=tensor_to_image(best["image"]),
            losses=history,
            timings={
                "setup_s": setup_s,
                "optimize_s": optimize_s,
                "total_s": time.perf_counter() - started,
                "per_step_s": optimize_s / max(1, len(history)),
            },
            options=record,
            best_step=best["step"],
            interrupted=interrupted,
        )
