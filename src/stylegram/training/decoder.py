"""Training the decoders of the arbitrary-style engines: VGG19 features at one layer → a picture.

One objective covers both kinds (Huang & Belongie 2017; Li et al. 2017). Each batch of photo crops is paired
with style images: a share ``style_share`` of the crops gets a painting crop, the rest gets itself. The
photo's features at the decoder's layer are moved to the style's channel statistics (AdaIN; a photo paired
with itself stays as it is) and decoded; the picture's features must match that target (content term), its
channel means and deviations at relu1_1 … the layer must match the style's (style term), and a photo paired
with itself must come back as it was (pixel term). The style term compares channel means and deviations (the
paper's) or Gram matrices (``style_loss="gram"``: the correlations between channels, which is what a
painting's own marks are made of and what ``stylegram eval`` measures). With ``style_share`` 0 this is the
pure reconstruction training of WCT's decoders; with a share of paintings it is AdaIN's decoder, which still
inverts plain features, so one relu4_1 decoder serves both engines.

Stage-wise (``tail``): the decoder's lower blocks are a trained decoder of the next shallower layer, kept fixed,
and only its deepest block is trained, to predict that layer's features from this one's (relative squared
error). No gradient goes through VGG19, so a step costs about half as much as the whole objective's, and the
picture is made by a decoder that already inverts its layer well: on a 2-core CPU this gave the shipped relu4_1
decoder (docs/arbitrary.md).

The steps of one run:

1. check the options and the folders;
2. build the VGG19 encoder, the decoder and Adam;
3. resume from the checkpoint beside the output when there is one for the same settings;
4. loop: photo crops and style crops → encoder → AdaIN → decoder → encoder → losses (stage-wise: photo crops →
   encoder → head → loss against the shallower features) → Adam step; report
   progress, write a checkpoint and a preview every so often (Ctrl-C writes one and stops), and measure the
   losses on a fixed batch of the folders' validation pictures;
5. write the decoder (fp16 safetensors with its provenance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from stylegram.cpu import fit_threads, memory_format
from stylegram.engines.base import ProgressEvent, check_fraction, check_weight
from stylegram.errors import InputError
from stylegram.features.encoder import VGGEncoder
from stylegram.io.image import (
    check_output_path,
    fit_long_side,
    image_to_tensor,
    load_image,
    resize,
    save_image,
    tensor_to_image,
)
from stylegram.models.decoder import DECODER_LAYERS, INPUT_SCALES, Decoder, check_decoder_layer
from stylegram.models.store import DECODER, load_decoder, save_network
from stylegram.ops.feature_transforms import adain, channel_moments
from stylegram.ops.gram import gram_matrix
from stylegram.ops.losses import relative_squared_error
from stylegram.runtime import autocast, choose_layout, choose_precision, resolve_device
from stylegram.training.data import VALIDATION_BATCH, PhotoCrops, image_paths, validation_crops
from stylegram.training.run import MODEL_SUFFIXES, TrainingRun, TrainResult, optimisation_step


@dataclass
class DecoderTrainOptions:
    """Settings of one decoder training run (all recorded in the decoder file).

    Attributes:
        layer: the VGG19 layer the decoder starts from (``relu1_1`` … ``relu5_1``).
        steps: Adam steps.
        batch_size: photo crops per step.
        image_size: side of the square crops.
        learning_rate: Adam's step size at the start, decayed to a tenth by the end.
        style_share: the share of each batch paired with a painting (needs a styles folder); 0 trains a pure
            reconstruction decoder.
        style_weight: weight of the style term.
        style_loss: what the style term compares per layer: ``moments`` (relative errors of channel means and
            deviations, Huang & Belongie) or ``gram`` (relative error of the Gram matrices).
        pixel_weight: weight of the pixel term on crops paired with themselves (relative squared error).
        style_layers: the layers whose channel statistics the style term compares; None: ``relu1_1`` up to
            the decoder's layer, as Huang & Belongie. Adding a deeper one (``relu5_1`` for a relu4_1 decoder)
            asks the decoder for the painting's largest structures too, which ``stylegram eval``'s Gram style
            distance also compares.
        stages: the decoder's layout (see :class:`~stylegram.models.decoder.Decoder`); None: the shipped one.
        init: a decoder file (of the same layer and layout) to start from instead of random weights, to train
            a decoder further; None: random.
        tail: a decoder file of the next shallower layer that becomes this decoder's lower blocks (see
            :meth:`~stylegram.models.decoder.Decoder.attach_tail`), fixed; only the deepest block is trained,
            to predict that layer's features. Needs ``style_share`` 0. None: the whole decoder is trained.
        checkpoint_every: steps between checkpoints (and loss-log lines).
        preview_every: steps between preview images (0: none).
        validate_every: steps between measurements of the losses on a fixed batch of the validation split of
            the photo and painting folders (0 or no validation pictures: none).
        seed: seeds the decoder's initial weights and the crops.
        precision: ``auto``, ``fp32`` or ``bf16``.
    """

    layer: str = "relu4_1"
    steps: int = 2000
    batch_size: int = 4
    image_size: int = 256
    learning_rate: float = 5e-4
    style_share: float = 0.75
    style_weight: float = 2.0
    style_loss: str = "moments"
    pixel_weight: float = 10.0
    style_layers: tuple[str, ...] | None = None
    stages: tuple[tuple[int, ...], ...] | None = None
    init: str | None = None
    tail: str | None = None
    checkpoint_every: int = 50
    preview_every: int = 250
    validate_every: int = 250
    seed: int = 0
    precision: str = "auto"


#: What the style term can compare (``DecoderTrainOptions.style_loss``).
DECODER_STYLE_LOSSES = ("moments", "gram")


def check_options(options: DecoderTrainOptions, styles: object) -> None:
    check_decoder_layer(options.layer)
    for name in ("steps", "batch_size", "image_size", "checkpoint_every"):
        value = getattr(options, name)
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name.replace('_', ' ')} must be a whole number of at least 1, got {value!r}")
    if options.image_size < 64 or options.image_size % 16:
        raise InputError(f"image size must be a multiple of 16 of at least 64, got {options.image_size}")
    check_weight("learning rate", options.learning_rate, allow_zero=False)
    check_fraction("style share", options.style_share)
    if options.style_loss not in DECODER_STYLE_LOSSES:
        raise InputError(f"style loss must be one of {', '.join(DECODER_STYLE_LOSSES)}; got {options.style_loss!r}")
    for name in ("style_weight", "pixel_weight"):
        check_weight(name.replace("_", " "), getattr(options, name))
    if options.style_layers is not None and (
        not options.style_layers or any(name not in DECODER_LAYERS for name in options.style_layers)
    ):
        names = ", ".join(options.style_layers) or "none"
        raise InputError(f"style layers must be some of {', '.join(DECODER_LAYERS)}; got {names}")
    if options.tail is not None and options.style_share > 0:
        raise InputError("a decoder trained on a tail learns to reconstruct features only: style share must be 0")
    if options.style_share > 0 and styles is None:
        raise InputError("a style share above 0 needs a folder of paintings (--styles)")


def style_layers(layer: str, chosen: Sequence[str] | None = None) -> list[str]:
    """The layers whose statistics the style term compares: ``chosen``, or relu1_1 up to the decoder's layer.

    Example:
        >>> style_layers("relu3_1")
        ['relu1_1', 'relu2_1', 'relu3_1']
        >>> style_layers("relu4_1", ["relu5_1", "relu1_1"])
        ['relu1_1', 'relu5_1']
    """
    if chosen is None:
        return list(DECODER_LAYERS[: DECODER_LAYERS.index(layer) + 1])
    return sorted(set(chosen), key=DECODER_LAYERS.index)


def moment_error(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared error of the channel means and standard deviations of ``features`` against ``target``'s.

    Example:
        >>> flat = torch.ones(1, 2, 4, 4)
        >>> float(moment_error(flat, flat))
        0.0
    """
    mean, std = channel_moments(features.float())
    target_mean, target_std = channel_moments(target.float())
    return relative_squared_error(torch.cat([mean, std]), torch.cat([target_mean, target_std]))


def gram_error(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared error of the Gram matrices of ``features`` against ``target``'s, image by image.

    Example:
        >>> flat = torch.ones(1, 2, 4, 4)
        >>> float(gram_error(flat, flat))
        0.0
    """
    return relative_squared_error(gram_matrix(features), gram_matrix(target))


STYLE_ERRORS = {"moments": moment_error, "gram": gram_error}


def train_decoder(
    output: str | Path,
    photos: str | Path | Sequence[str | Path],
    styles: str | Path | Sequence[str | Path] | None = None,
    options: DecoderTrainOptions | None = None,
    *,
    device: str = "auto",
    preview_photo: str | Path | None = None,
    preview_style: str | Path | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> TrainResult:
    """Train a decoder on the photos in ``photos`` (and the paintings ``styles``: a folder, or a list of
    folders and files) and write it to ``output``.

    A checkpoint ``<output>.ckpt`` is written every ``checkpoint_every`` steps and on Ctrl-C; calling again
    with the same settings resumes from it. Previews (``preview_photo`` in the style of ``preview_style``, or
    decoded as it is) go to ``<output stem>_preview_<step>.jpg``.

    Raises:
        InputError: bad options, empty folders, or a checkpoint made with other settings.
    """
    # 1. Check the options and the folders.
    options = options or DecoderTrainOptions()
    check_options(options, styles)
    named = [styles] if isinstance(styles, str | Path) else list(styles or [])
    inputs = [*named, options.init, options.tail, preview_photo, preview_style]
    output = check_output_path(output, MODEL_SUFFIXES, inputs=inputs)
    painted = round(options.batch_size * options.style_share)
    PhotoCrops(photos, options.image_size)  # an empty or missing folder fails here, before any work
    if painted:
        PhotoCrops(styles, options.image_size)
    target = resolve_device(device)

    # 2. Encoder, decoder, optimiser, in the precision and memory layout this machine runs fastest.
    deepest = max(options.layer, *style_layers(options.layer, options.style_layers), key=DECODER_LAYERS.index)
    layout = choose_layout("auto", target)
    encoder = VGGEncoder.load(DECODER_LAYERS[: DECODER_LAYERS.index(deepest) + 1]).to(target).to_layout(layout)
    dtype = choose_precision(options.precision, target)
    torch.manual_seed(options.seed)
    decoder = Decoder(options.layer, options.stages)
    if options.init is not None:
        start, _ = load_decoder(options.init)
        if start.config != decoder.config:
            raise InputError(f"{options.init} is a {start.config} decoder, not {decoder.config}")
        decoder.load_state_dict(start.state_dict())
    head = None
    if options.tail is not None:
        head = decoder.attach_tail(load_decoder(options.tail)[0])
        decoder.body[len(head) :].requires_grad_(False)
    decoder = decoder.to(target, memory_format=memory_format(layout))
    trained = [parameter for parameter in decoder.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=options.learning_rate)

    # 3. Resume when a checkpoint of this run exists.
    style_files = [path.name for path in image_paths(styles)] if styles else []
    settings = {"styles": style_files, **asdict(options)}
    settings["stages"] = decoder.config["stages"]
    run = TrainingRun(output, settings, {"decoder": decoder, "optimizer": optimizer})
    first_step = run.resume(target)
    # A resumed run draws other crops than it would have, rather than cutting every crop it already saw again.
    seed = options.seed + first_step
    photo_batches = PhotoCrops(photos, options.image_size, seed).batches(options.batch_size)
    style_batches = PhotoCrops(styles, options.image_size, seed + 1).batches(painted) if painted else None
    preview = _preview_inputs(preview_photo, preview_style) if options.preview_every else None
    validation = _validation_batch(photos, styles, options, target) if options.validate_every else None

    # 4. Train, from a measurement of where the run starts on the validation pictures.
    if validation is not None and not run.validation:
        run.validated(first_step, _validation_terms(encoder, head, decoder, validation, options, dtype))
    step, interrupted = first_step, False
    try:
        while step < options.steps:
            fit_threads()
            photo = next(photo_batches).to(target)
            if head is not None:
                terms = _head_terms(encoder, head, decoder, photo, dtype)
            else:
                paintings = None if style_batches is None else next(style_batches).to(target)
                terms = _terms(encoder, decoder, photo, paintings, options, dtype)
            step = optimisation_step(optimizer, terms, step, options.steps, options.learning_rate)
            if validation is not None and step % options.validate_every == 0:
                run.validated(step, _validation_terms(encoder, head, decoder, validation, options, dtype))
            run.after_step(step, options.steps, options.checkpoint_every, terms, on_progress)
            if preview is not None and step % options.preview_every == 0:
                path = output.with_name(f"{output.stem}_preview_{step:05d}.jpg")
                save_image(tensor_to_image(_decode_preview(encoder, decoder, options.layer, preview, dtype)), path)
    except KeyboardInterrupt:
        interrupted = True
        run.save(step)

    # 5. Write the decoder when the run is complete.
    if interrupted:
        return run.result(None, step)
    info = {
        "trained": {**settings, "steps": step, "precision": str(dtype)},
        "final_losses": run.log[-1] if run.log else {},
    }
    save_network(decoder, output, DECODER, info)
    return run.result(output, step)


def _terms(
    encoder: VGGEncoder,
    decoder: Decoder,
    photo: torch.Tensor,
    paintings: torch.Tensor | None,
    options: DecoderTrainOptions,
    dtype: torch.dtype,
) -> dict[str, torch.Tensor]:
    """The whole objective: photo crop i paired with painting crop i, the photo crops after the last painting
    with themselves."""
    count, painted = len(photo), 0 if paintings is None else len(paintings)
    batch = photo if paintings is None else torch.cat([photo, paintings])
    layers = style_layers(decoder.layer, options.style_layers)
    with autocast(batch.device, dtype):
        with torch.no_grad():
            # One pass over the photos and paintings; crop i is paired with painting i for i < painted,
            # with itself after that, so the style features are the paintings' then the photos' own.
            encoded = encoder(batch)
            style_features = {name: torch.cat([value[count:], value[painted:count]]) for name, value in encoded.items()}
            goal = adain(encoded[decoder.layer][:count], style_features[decoder.layer])
        picture = decoder(goal)
        features = encoder(picture)
    terms = {
        "content": relative_squared_error(features[decoder.layer], goal),
        "style": options.style_weight
        * sum(STYLE_ERRORS[options.style_loss](features[name], style_features[name]) for name in layers),
    }
    if painted < count:
        terms["pixel"] = options.pixel_weight * relative_squared_error(picture[painted:], photo[painted:])
    return terms


def _head_terms(
    encoder: VGGEncoder, head: torch.nn.Module, decoder: Decoder, photo: torch.Tensor, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Stage-wise: the head's prediction of the tail layer's features against the photo's own."""
    layer, tail_layer = decoder.layer, decoder.tail_layer
    with autocast(photo.device, dtype):
        with torch.no_grad():
            encoded = encoder(photo)
        prediction = head(encoded[layer] / INPUT_SCALES[layer])
    goal = encoded[tail_layer].float() / INPUT_SCALES[tail_layer]
    return {"features": relative_squared_error(prediction.float(), goal)}


def _validation_batch(
    photos: str | Path | Sequence[str | Path],
    styles: str | Path | Sequence[str | Path] | None,
    options: DecoderTrainOptions,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """Crops of the folders' validation pictures, the same at every start: photos and their paintings (None
    when a folder the run reads has no validation pictures)."""
    photo = validation_crops(photos, options.image_size, VALIDATION_BATCH)
    painted = round(VALIDATION_BATCH * options.style_share)
    painting = validation_crops(styles, options.image_size, painted) if painted else None
    if photo is None or (painted and painting is None):
        return None
    return photo.to(device), None if painting is None else painting.to(device)


@torch.no_grad()
def _validation_terms(
    encoder: VGGEncoder,
    head: torch.nn.Module | None,
    decoder: Decoder,
    batch: tuple[torch.Tensor, torch.Tensor | None],
    options: DecoderTrainOptions,
    dtype: torch.dtype,
) -> dict[str, torch.Tensor]:
    photo, paintings = batch
    if head is not None:
        return _head_terms(encoder, head, decoder, photo, dtype)
    return _terms(encoder, decoder, photo, paintings, options, dtype)


def _preview_inputs(photo: str | Path | None, style: str | Path | None) -> tuple[torch.Tensor, torch.Tensor] | None:
    if photo is None:
        return None
    tensors = []
    for source, what in ((photo, "preview photo"), (style or photo, "preview style")):
        image = load_image(source, what=what)
        tensors.append(image_to_tensor(resize(image, fit_long_side(image.size, 384))))
    return tensors[0], tensors[1]


@torch.no_grad()
def _decode_preview(
    encoder: VGGEncoder, decoder: Decoder, layer: str, preview: tuple[torch.Tensor, torch.Tensor], dtype
) -> torch.Tensor:
    device = next(decoder.parameters()).device
    decoder.eval()
    with autocast(device, dtype):
        photo, style = (encoder(tensor.to(device))[layer] for tensor in preview)
        picture = decoder(adain(photo, style)).float().clamp(0, 1)
    decoder.train()
    return picture
