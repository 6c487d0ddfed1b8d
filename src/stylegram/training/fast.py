"""Training a feed-forward style network (Johnson et al. 2016) with the Gatys losses, on a CPU or a GPU.

The steps of one run:

1. check the options (before any work) and load the style image;
2. build the VGG19 encoder, the network and Adam; take the style's Gram targets once;
3. resume from the checkpoint beside the output when there is one for the same style and settings;
4. loop: a batch of random photo crops → network → VGG19 → content + style + total variation → Adam step;
   report progress, write a checkpoint and a preview every so often (Ctrl-C writes one and stops);
5. write the model (fp16 safetensors with its provenance) and the loss log.

The losses are those of the optimisation engine (relative squared errors, same layers), so a trained network
aims at what ``stylegram eval`` measures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn import functional

from stylegram.cpu import fit_threads
from stylegram.engines.base import ProgressEvent, check_weight
from stylegram.errors import InputError
from stylegram.features.encoder import VGGEncoder
from stylegram.features.layers import DEFAULT_STYLE_LAYERS, NETWORK_CONTENT_LAYERS
from stylegram.features.vgg import check_layers
from stylegram.features.weights import file_sha256
from stylegram.io.image import (
    check_output_path,
    fit_long_side,
    image_to_tensor,
    load_image,
    resize,
    save_image,
    tensor_to_image,
)
from stylegram.models.discriminator import PatchDiscriminator
from stylegram.models.store import save_style_model
from stylegram.models.transformer import TransformerNet
from stylegram.ops.gram import gram_matrix
from stylegram.ops.losses import LossWeights, loss_weights_of, perceptual_terms
from stylegram.runtime import autocast, choose_precision, resolve_device
from stylegram.training.data import VALIDATION_BATCH, PhotoCrops, validation_crops
from stylegram.training.run import MODEL_SUFFIXES, TrainingRun, TrainResult, optimisation_step

#: The smallest style image worth learning from: its Gram statistics need a few relu5_1 positions.
MIN_STYLE_SIDE = 128


@dataclass
class TrainOptions:
    """Settings of one training run (all recorded in the model file).

    Attributes:
        steps: Adam steps.
        batch_size: photo crops per step.
        image_size: side of the square crops.
        style_size: long side of the style image while its statistics are taken (its brush strokes come out
            at this scale relative to a ``image_size`` crop).
        learning_rate: Adam's step size at the start, decayed to a tenth by the end (see
            :func:`~stylegram.training.run.learning_rate_at`).
        content_weight: α (relative feature errors at ``content_layers``).
        style_weight: β (relative Gram errors at relu1_1 … relu5_1, weighted as in the optimisation engine).
        tv_weight: total-variation weight.
        widths: channels of the network at its three resolutions.
        residual_blocks: residual blocks of the network.
        light: the pixel-(un)shuffle layout (see :class:`~stylegram.models.transformer.TransformerNet`).
        checkpoint_every: steps between checkpoints (and loss-log lines).
        preview_every: steps between preview images (0: none).
        validate_every: steps between measurements of the losses on a fixed batch of the photo folders'
            validation split (0 or no validation photos: none).
        seed: seeds the network's initial weights and the crops.
        precision: ``auto``, ``fp32`` or ``bf16``, as for the optimisation engine.
        content_layers: the layers whose features the picture keeps from the photo, with their weights.
        style_layers: the layers whose Gram matrices it takes from the painting, with their weights.
        adversarial_weight: weight of an adversarial term (least-squares GAN): a small PatchGAN discriminator
            learns to tell the network's pictures from crops of the painting, and the network learns to fool
            it; 0 (the default) trains without it.
    """

    steps: int = 2400
    batch_size: int = 2
    image_size: int = 256
    style_size: int = 384
    learning_rate: float = 2e-3
    content_weight: float = 1.0
    style_weight: float = 2.0
    tv_weight: float = 1e-4
    widths: tuple[int, ...] = (24, 48)
    residual_blocks: int = 3
    light: bool = True
    add_input: bool = False
    checkpoint_every: int = 50
    preview_every: int = 250
    validate_every: int = 250
    seed: int = 0
    precision: str = "auto"
    content_layers: dict[str, float] = field(default_factory=lambda: dict(NETWORK_CONTENT_LAYERS))
    style_layers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STYLE_LAYERS))
    adversarial_weight: float = 0.0

    def loss_weights(self) -> LossWeights:
        """The perceptual loss the network is trained on."""
        return loss_weights_of(self)


def check_options(options: TrainOptions) -> None:
    for name in ("steps", "batch_size", "image_size", "style_size", "checkpoint_every", "residual_blocks"):
        value = getattr(options, name)
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name.replace('_', ' ')} must be a whole number of at least 1, got {value!r}")
    if options.image_size < 64 or options.image_size % 8:
        raise InputError(f"image size must be a multiple of 8 of at least 64, got {options.image_size}")
    check_weight("learning rate", options.learning_rate, allow_zero=False)
    for name in ("content_weight", "style_weight", "tv_weight", "adversarial_weight"):
        check_weight(name.replace("_", " "), getattr(options, name))
    for what in ("content", "style"):
        layers = getattr(options, f"{what}_layers")
        if not layers:
            raise InputError(f"training needs at least one {what} layer")
        check_layers(layers)
        for name, weight in layers.items():
            check_weight(f"weight of {what} layer {name}", weight)


def train_style(
    style: str | Path,
    output: str | Path,
    photos: str | Path | Sequence[str | Path],
    options: TrainOptions | None = None,
    *,
    device: str = "auto",
    preview_photo: str | Path | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> TrainResult:
    """Train a network for the painting ``style`` on the photos in ``photos`` and write it to ``output``.

    A checkpoint ``<output>.ckpt`` is written every ``checkpoint_every`` steps and on Ctrl-C; calling again
    with the same style and options resumes from it. Previews of ``preview_photo`` go to
    ``<output stem>_preview_<step>.jpg``.

    Raises:
        InputError: bad options, a missing or too small style image, an empty photo folder, or a checkpoint
            made for another style or other settings.
    """
    # 1. Check the options and load the style image.
    options = options or TrainOptions()
    check_options(options)
    output = check_output_path(output, MODEL_SUFFIXES, inputs=[style, preview_photo])
    style_image = load_image(style, what="style image")
    if min(style_image.size) < MIN_STYLE_SIDE:
        raise InputError(
            f"style image is {style_image.width}x{style_image.height}; training needs at least "
            f"{MIN_STYLE_SIDE} px on the short side"
        )
    PhotoCrops(photos, options.image_size)  # an empty or missing folder fails here, before any work
    target = resolve_device(device)

    # 2. Encoder, network, optimiser, style targets.
    encoder = VGGEncoder.load([*options.content_layers, *options.style_layers]).to(target)
    dtype = choose_precision(options.precision, target)
    torch.manual_seed(options.seed)
    net = TransformerNet(options.widths, options.residual_blocks, options.light, options.add_input).to(target)
    optimizer = torch.optim.Adam(net.parameters(), lr=options.learning_rate)
    style_tensor = image_to_tensor(resize(style_image, fit_long_side(style_image.size, options.style_size)))
    with torch.no_grad(), autocast(target, dtype):
        style_features = encoder(style_tensor.to(target))
    style_targets = {name: gram_matrix(style_features[name]) for name in options.style_layers}
    adversary = None
    if options.adversarial_weight > 0:
        adversary = _Adversary(style_tensor, options.image_size, options.seed, target)

    # 3. Resume when a checkpoint of this run exists.
    # The painting by its bytes, not its path: a checkpoint resumes in another checkout or on a lent machine.
    settings = {
        "style": Path(style).name,
        "style_sha256": file_sha256(Path(style)),
        **asdict(options),
        "widths": list(options.widths),
    }
    parts = {"net": net, "optimizer": optimizer} | ({"adversary": adversary} if adversary is not None else {})
    run = TrainingRun(output, settings, parts)
    first_step = run.resume(target)
    preview = None
    if preview_photo is not None and options.preview_every:
        photo = load_image(preview_photo, what="preview photo")
        preview = image_to_tensor(resize(photo, fit_long_side(photo.size, 384)))

    # 4. Train, from a measurement of where the run starts on the validation photos.
    validation = validation_crops(photos, options.image_size, VALIDATION_BATCH) if options.validate_every else None
    if validation is not None:
        validation = validation.to(target)
        if not run.validation:
            with torch.no_grad():
                run.validated(first_step, _terms(net, encoder, validation, style_targets, options, dtype)[1])
    batches = PhotoCrops(photos, options.image_size, options.seed + first_step).batches(options.batch_size)
    step = first_step
    interrupted = False
    try:
        while step < options.steps:
            fit_threads()
            batch = next(batches).to(target)
            picture, terms = _terms(net, encoder, batch, style_targets, options, dtype)
            if adversary is not None:
                terms["adversarial"] = options.adversarial_weight * adversary.step(picture, len(batch))
            step = optimisation_step(optimizer, terms, step, options.steps, options.learning_rate)
            if validation is not None and step % options.validate_every == 0:
                with torch.no_grad():
                    run.validated(step, _terms(net, encoder, validation, style_targets, options, dtype)[1])
            run.after_step(step, options.steps, options.checkpoint_every, terms, on_progress)
            if preview is not None and step % options.preview_every == 0:
                net.eval()
                with torch.no_grad(), autocast(target, dtype):
                    picture = net(preview.to(target)).float().clamp(0, 1)
                net.train()
                save_image(tensor_to_image(picture), output.with_name(f"{output.stem}_preview_{step:05d}.jpg"))
    except KeyboardInterrupt:
        interrupted = True
        run.save(step)

    # 5. Write the model when the run is complete.
    if interrupted:
        return run.result(None, step)
    info = {
        "style": Path(style).name,
        "trained": {**settings, "steps": step, "precision": str(dtype)},
        "final_losses": run.log[-1] if run.log else {},
    }
    save_style_model(net, output, info)
    return run.result(output, step)


def _terms(
    net: TransformerNet,
    encoder: VGGEncoder,
    batch: torch.Tensor,
    style_targets: dict[str, torch.Tensor],
    options: TrainOptions,
    dtype: torch.dtype | None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The network's pictures of ``batch`` and their content, style and total-variation terms."""
    with autocast(batch.device, dtype):
        with torch.no_grad():
            content_targets = encoder(batch)
        picture = net(batch)
        features = encoder(picture)
    return picture, perceptual_terms(picture, features, content_targets, style_targets, options.loss_weights())


class _Adversary:
    """The discriminator of the optional adversarial term, its optimiser, and the painting's crops it learns from."""

    def __init__(self, painting: torch.Tensor, size: int, seed: int, device: torch.device):
        self.painting = painting.to(device)
        self.size = min(size, *painting.shape[-2:])
        self.generator = torch.Generator().manual_seed(seed)
        self.output_size = size
        self.net = PatchDiscriminator().to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def _painting_crops(self, count: int) -> torch.Tensor:
        height, width = self.painting.shape[-2:]
        crops = []
        for _ in range(count):
            top = int(torch.randint(height - self.size + 1, (1,), generator=self.generator))
            left = int(torch.randint(width - self.size + 1, (1,), generator=self.generator))
            crops.append(self.painting[..., top : top + self.size, left : left + self.size])
        crops = torch.cat(crops)
        if self.size != self.output_size:
            crops = functional.interpolate(crops, size=self.output_size, mode="bilinear", align_corners=False)
        return crops

    def step(self, picture: torch.Tensor, count: int) -> torch.Tensor:
        """Update the discriminator on painting crops vs ``picture``; return the network's (generator's) loss."""
        picture = picture.float()  # the network's output may be bf16 (autocast); the discriminator runs in fp32
        real = self.net(self._painting_crops(count)).float()
        fake = self.net(picture.detach()).float()
        loss = (real - 1).pow(2).mean() + fake.pow(2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return (self.net(picture).float() - 1).pow(2).mean()

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
