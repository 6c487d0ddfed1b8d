"""The region classifier of :mod:`stylegram.segmentation`: a linear map from a grid position's description to
the kinds of area in :data:`~stylegram.segmentation.REGION_CLASSES`, learnt from hand-drawn maps.

``training/regions/labels.json`` holds polygon maps of training-split photos of ``../shared/train/photos``
(never a bench photo, nor one of the benchmark's own maps: :func:`train_region_classifier` refuses them).
Each photo and its mirror image is described at :data:`TRAIN_SIDE` px, every :data:`SUBSAMPLE`-th grid
position is kept, and a multinomial logistic regression is fitted with L-BFGS (class-balanced, L2-penalised).
The settings are the ones three-fold cross-validation on those photos chose (:func:`cross_validate`,
``training/regions/README.md``).

Usage: ``scripts/train_region_classifier.py`` (``make region-classifier``) rewrites
``stylegram/weights/region_classes.safetensors``; ``--cross-validate 3`` judges the recipe instead.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from torch.nn import functional

from stylegram.errors import InputError
from stylegram.io.files import atomic_path
from stylegram.io.image import fit_long_side, image_to_tensor, load_image, resize
from stylegram.ops.masks import segment_regions
from stylegram.segmentation import REGION_CLASSES, class_inputs, segment
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


def present_classes(truth: np.ndarray) -> list[int]:
    """The classes of a class map covering at least 1 % of it: the number of regions it is judged with."""
    return [int(c) for c in np.unique(truth) if (truth == c).mean() >= 0.01]


def mean_iou(labels: np.ndarray, truth: np.ndarray, classes: list[int]) -> float:
    """Mean IoU over ``classes`` of the class map ``truth`` with the regions ``0..len(classes)-1`` of ``labels``
    paired one to one with them at best (all pairings: ``classes`` are few).

    Example:
        >>> truth = np.array([[0, 0, 3, 3]])
        >>> mean_iou(np.array([[1, 1, 0, 0]]), truth, [0, 3])
        1.0
        >>> round(mean_iou(np.array([[1, 1, 1, 0]]), truth, [0, 3]), 3)  # 2/3 for class 0, 1/2 for class 3
        0.583
    """
    ious = np.array(
        [[((labels == region) & (truth == c)).sum() / max(1, ((labels == region) | (truth == c)).sum())
          for c in classes] for region in range(len(classes))]
    )  # fmt: skip
    return max(
        float(np.mean([ious[order[j], j] for j in range(len(classes))]))
        for order in itertools.permutations(range(len(classes)))
    )


def against_truth(
    image: torch.Tensor, truth: np.ndarray, present: list[int], classifier: dict[str, torch.Tensor] | None = None
) -> tuple[dict, np.ndarray, np.ndarray]:
    """``image`` split by ``semantic`` (with ``classifier``, the shipped one by default) and by the colour-only
    ``auto`` into as many regions as ``present`` has classes of the class map ``truth``.

    Returns:
        ``({"regions", "iou_semantic", "iou_auto"}, semantic labels, auto labels)``
    """
    semantic = segment(image, len(present), classifier=classifier).labels.numpy()
    auto = torch.cat(segment_regions(image, len(present)), dim=1)[0].argmax(dim=0).numpy()
    figure = {
        "regions": len(present),
        "iou_semantic": round(mean_iou(semantic, truth, present), 3),
        "iou_auto": round(mean_iou(auto, truth, present), 3),
    }
    return figure, semantic, auto


def summarise(figures: dict[str, dict]) -> dict:
    """The means of :func:`against_truth`'s figures over photos, and on how many ``semantic`` scored higher."""
    semantic_iou = [figure["iou_semantic"] for figure in figures.values()]
    auto_iou = [figure["iou_auto"] for figure in figures.values()]
    return {
        "mean_iou_semantic": round(float(np.mean(semantic_iou)), 3),
        "mean_iou_auto": round(float(np.mean(auto_iou)), 3),
        "semantic_higher_on": sum(s > a for s, a in zip(semantic_iou, auto_iou, strict=True)),
        "of": len(figures),
    }


def _mirrored(entry: dict) -> dict:
    polygons = [{**polygon, "points": [[1 - x, y] for x, y in polygon["points"]]} for polygon in entry["polygons"]]
    return {**entry, "polygons": polygons}


def labelled_positions(photo: Image.Image, entry: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier inputs of every grid position of ``photo`` at :data:`TRAIN_SIDE` px, and their classes."""
    inputs, grid = class_inputs(image_to_tensor(resize(photo, fit_long_side(photo.size, TRAIN_SIDE))))
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


def _labelled_photos(
    labels: str | Path, shared: str | Path, refuse: str | Path
) -> Iterator[tuple[str, Image.Image, dict]]:
    """``(name, photo, map)`` of each entry of ``labels``, refusing photos of ``refuse`` and of the validation split."""
    table = json.loads(Path(labels).read_text())
    benchmark = {Path(entry["path"]).name for entry in json.loads(Path(refuse).read_text())["photos"].values()}
    if tuple(table["classes"]) != REGION_CLASSES:
        raise InputError(f"{labels} names the classes {table['classes']}, not {list(REGION_CLASSES)}")
    for name, entry in sorted(table["photos"].items()):
        path = Path(shared) / entry["path"]
        if path.name in benchmark or is_validation(path) or "bench" in Path(entry["path"]).parts:
            raise InputError(f"{name} is a benchmark or validation photo; the classifier may not learn from it")
        yield name, load_image(path), entry


def _training_positions(photo: Image.Image, entry: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Every :data:`SUBSAMPLE`-th labelled position of ``photo`` and of its mirror image."""
    mirror = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pairs = [labelled_positions(picture, drawn) for picture, drawn in ((photo, entry), (mirror, _mirrored(entry)))]
    return torch.cat([inputs[::SUBSAMPLE] for inputs, _ in pairs]), torch.cat(
        [kinds[::SUBSAMPLE] for _, kinds in pairs]
    )


def train_region_classifier(labels: str | Path, shared: str | Path, output: str | Path, refuse: str | Path) -> Path:
    """Fit the region classifier on the maps of ``labels`` (paths relative to ``shared``) and write it to
    ``output``; no photo of ``refuse`` (the benchmark's maps) nor of the validation split may be among them."""
    positions = [_training_positions(photo, entry) for _, photo, entry in _labelled_photos(labels, shared, refuse)]
    tensors = fit_classifier(
        torch.cat([inputs for inputs, _ in positions]), torch.cat([kinds for _, kinds in positions])
    )
    metadata = {
        "kind": "region-classifier",
        "classes": json.dumps(list(REGION_CLASSES)),
        "photos": str(len(positions)),
        "labels_sha256": hashlib.sha256(Path(labels).read_bytes()).hexdigest(),
    }
    with atomic_path(output) as temporary:
        save_file({key: value.contiguous() for key, value in tensors.items()}, str(temporary), metadata=metadata)
    return Path(output)


def cross_validate(labels: str | Path, shared: str | Path, refuse: str | Path, folds: int = 3) -> dict:
    """Judge the classifier's recipe on the labelled photos themselves: photo ``i`` (in name order) is held out
    in fold ``i % folds``, a classifier is fitted on the other folds, and the held-out photo is segmented with
    it into as many regions as its map has classes (:func:`present_classes`), beside the colour-only ``auto``.

    Returns:
        ``{"folds", "photos": {name: {"regions", "iou_semantic", "iou_auto"}}}`` with :func:`summarise`'s figures.
    """
    if folds < 2:
        raise InputError(f"cross-validation needs at least 2 folds, got {folds}")
    photos = list(_labelled_photos(labels, shared, refuse))
    if len(photos) < folds:
        raise InputError(f"{len(photos)} labelled photos cannot make {folds} folds")
    positions = [_training_positions(photo, entry) for _, photo, entry in photos]
    figures = {}
    for fold in range(folds):
        kept = [pair for index, pair in enumerate(positions) if index % folds != fold]
        classifier = fit_classifier(torch.cat([i for i, _ in kept]), torch.cat([k for _, k in kept]))
        for name, photo, entry in photos[fold::folds]:
            small = resize(photo, fit_long_side(photo.size, TRAIN_SIDE))
            truth = rasterise(entry, small.size)
            figures[name] = against_truth(image_to_tensor(small), truth, present_classes(truth), classifier)[0]
    return {"folds": folds, "photos": dict(sorted(figures.items())), **summarise(figures)}
