"""The region classifier of :mod:`stylegram.segmentation`: a linear map from a grid position's description to
the kinds of area in :data:`~stylegram.segmentation.REGION_CLASSES`, learnt from hand-drawn maps.

``training/regions/labels.json`` holds polygon maps of training-split photos of ``../shared/train/photos``
(never a bench photo, nor one of the benchmark's own maps: :func:`train_region_classifier` refuses them).
Each photo and its mirror image is described at :data:`TRAIN_SIDE` px, every :data:`SUBSAMPLE`-th grid
position is kept, and a multinomial logistic regression is fitted with L-BFGS (class-balanced, L2-penalised).
The settings are the ones three-fold cross-validation on those photos chose (``training/regions/README.md``).

Usage: ``scripts/train_region_classifier.py`` (``make region-classifier``) rewrites
``stylegram/weights/region_classes.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from torch.nn import functional

from stylegram.errors import InputError
from stylegram.io.files import atomic_path
from stylegram.io.image import image_to_tensor, load_image, resize
from stylegram.segmentation import REGION_CLASSES, class_inputs
from stylegram.training.data import is_validation

#: Long side the labelled photos are described at (the benchmark's).
TRAIN_SIDE = 512
#: One grid position in this many is kept: neighbours say nearly the same, and the fit is three times faster.
SUBSAMPLE = 3
#: L2 penalty on the weights (of standardised inputs), and L-BFGS iterations.
WEIGHT_DECAY = 0.3
ITERATIONS = 100


def rasterise(entry: dict, size: tuple[int, int], classes: tuple[str, ...] = REGION_CLASSES) -> np.ndarray:
    """The polygon map ``entry`` (``fill`` and ``polygons`` of ``{"class", "points"}`` in shares of the width and
    height, painted in order) at ``size`` (``(width, height)``), a class index per pixel.

    Example:
        >>> entry = {"fill": "sky", "polygons": [{"class": "water", "points": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}]}
        >>> rasterise(entry, (2, 4))[:, 0].tolist()
        [0, 0, 2, 2]
    """
    canvas = Image.new("L", size, classes.index(entry["fill"]))
    draw = ImageDraw.Draw(canvas)
    for polygon in entry["polygons"]:
        points = [(x * size[0], y * size[1]) for x, y in polygon["points"]]
        draw.polygon(points, fill=classes.index(polygon["class"]))
    return np.asarray(canvas)


def _mirrored(entry: dict) -> dict:
    polygons = [{**polygon, "points": [[1 - x, y] for x, y in polygon["points"]]} for polygon in entry["polygons"]]
    return {**entry, "polygons": polygons}


def labelled_positions(photo: Image.Image, entry: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier inputs of every grid position of ``photo`` at :data:`TRAIN_SIDE` px, and their classes."""
    scale = TRAIN_SIDE / max(photo.size)
    image = image_to_tensor(resize(photo, (round(photo.width * scale), round(photo.height * scale))))
    inputs, grid = class_inputs(image)
    classes = rasterise(entry, (grid[1], grid[0])).reshape(-1)
    return inputs, torch.from_numpy(classes.astype(np.int64))


def fit_classifier(inputs: torch.Tensor, classes: torch.Tensor) -> dict[str, torch.Tensor]:
    """A multinomial logistic regression of ``classes`` on standardised ``inputs``, classes weighted by the
    inverse square root of their frequency (so that a small class is not drowned); a class absent from the
    labels gets no weight and is never the likeliest."""
    mean, std = inputs.mean(dim=0), inputs.std(dim=0).clamp_min(1e-6)
    standardised = (inputs - mean) / std
    torch.manual_seed(0)
    linear = torch.nn.Linear(inputs.shape[1], len(REGION_CLASSES))
    counts = torch.bincount(classes, minlength=len(REGION_CLASSES)).float()
    weights = (counts.sum() / counts.clamp_min(1)).sqrt() * (counts > 0)
    optimiser = torch.optim.LBFGS(linear.parameters(), max_iter=ITERATIONS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = functional.cross_entropy(linear(standardised), classes, weight=weights)
        loss = loss + WEIGHT_DECAY * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        bias = linear.bias.masked_fill(counts == 0, -1e4)
    return {"mean": mean, "std": std, "weight": linear.weight.detach().clone(), "bias": bias}


def train_region_classifier(labels: str | Path, shared: str | Path, output: str | Path, refuse: str | Path) -> Path:
    """Fit the region classifier on the maps of ``labels`` (paths relative to ``shared``) and write it to
    ``output``; no photo of ``refuse`` (the benchmark's maps) nor of the validation split may be among them."""
    table = json.loads(Path(labels).read_text())
    benchmark = {Path(entry["path"]).name for entry in json.loads(Path(refuse).read_text())["photos"].values()}
    if tuple(table["classes"]) != REGION_CLASSES:
        raise InputError(f"{labels} names the classes {table['classes']}, not {list(REGION_CLASSES)}")
    inputs, classes = [], []
    for name, entry in table["photos"].items():
        path = Path(shared) / entry["path"]
        if path.name in benchmark or is_validation(path) or "bench" in Path(entry["path"]).parts:
            raise InputError(f"{name} is a benchmark or validation photo; the classifier may not learn from it")
        photo = load_image(path)
        for picture, drawn in ((photo, entry), (photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), _mirrored(entry))):
            positions, kinds = labelled_positions(picture, drawn)
            inputs.append(positions[::SUBSAMPLE])
            classes.append(kinds[::SUBSAMPLE])
    tensors = fit_classifier(torch.cat(inputs), torch.cat(classes))
    metadata = {
        "kind": "region-classifier",
        "classes": json.dumps(list(REGION_CLASSES)),
        "photos": str(len(table["photos"])),
        "labels_sha256": hashlib.sha256(Path(labels).read_bytes()).hexdigest(),
    }
    with atomic_path(output) as temporary:
        save_file({key: value.contiguous() for key, value in tensors.items()}, str(temporary), metadata=metadata)
    return Path(output)
