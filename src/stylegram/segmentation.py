"""Regions by meaning: a photo (or a painting) split into areas such as sky, buildings, water and foliage, from
the VGG19 the project already ships.

:func:`segment` works in five steps:

1. **Describe** every position of a grid at a quarter of the working size by VGG19 activations at three depths
   (relu3_1 for texture, relu4_1 and relu5_1 for kinds of things), each upsampled, normalised per position
   and cut to its main directions, with the position's colour (CIELAB), its place in the picture, and how
   likely it is to be sky, building, water, vegetation, a person or something else: the posteriors of a
   linear classifier of those activations, learnt from hand-drawn maps of 45 training photos
   (:mod:`stylegram.training.regions`, shipped in ``weights/region_classes.safetensors``).
2. **Sort by kind**: the posteriors are smoothed by a few rounds of an edge-aware mean field (a dense CRF whose
   pairwise term is a colour guided filter of the photo: a label spreads within areas of like colour, not
   across edges) and each position takes its likeliest kind; each kind covering at least
   :data:`MIN_CLASS_SHARE` of the picture, up to ``count`` of them, the largest first, is a region, and a
   position of any other kind joins the likeliest kind kept.
3. **Split** while there are fewer regions than ``count``: the region whose descriptions vary most (summed
   squared deviation) is cut in two by k-means (OpenCV), so a lit and a shaded façade part before a façade
   and the sky join.
4. **Refine** the borders by the whole description: each position's distances to the regions' mean
   descriptions, smoothed by the same mean field; then **merge** specks: every piece of a region but its
   largest that covers less than :data:`MIN_PIECE_SHARE` joins the region it borders most.
5. **Snap** the borders to the photo's edges at full size: the one-hot labels are guided-filtered with the
   full-size photo as guide (fitted at a lower size and applied at full size, as the photo engine's
   smoothing is) and the largest share wins.

Each region also carries its mean deep features (:attr:`Segmentation.descriptors`), comparable between
pictures, for pairing a photo's regions with a painting's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import load_file
from torch.nn import functional

from stylegram.cpu import eigh
from stylegram.errors import InputError
from stylegram.features.encoder import VGGEncoder
from stylegram.ops.smoothing import fit_local_affine, smooth
from stylegram.runtime import autocast, choose_layout, choose_precision

#: The layers a position is described by, and each one's share of the description.
FEATURE_WEIGHTS = {"relu3_1": 0.6, "relu4_1": 1.0, "relu5_1": 1.0}
#: Directions kept of each layer's features (the rest is mostly noise at these grid sizes).
FEATURE_DIMENSIONS = 8
#: Shares of the colour and of the place in the picture in a position's description.
COLOR_WEIGHT = 0.8
POSITION_WEIGHT = 0.5
#: The kinds of area the region classifier tells apart, and their posteriors' share in a position's description
#: (chosen by cross-validation on the labelled training photos, ``training/regions/README.md``).
REGION_CLASSES = ("sky", "building", "water", "vegetation", "person", "other")
CLASS_WEIGHT = 3.0
REGION_CLASSIFIER = Path(__file__).parent / "weights" / "region_classes.safetensors"
#: Long side the features are computed at; the grid is a quarter of it.
WORK_SIDE = 384
#: Long side the borders are fitted at before being applied at full size.
SNAP_SIDE = 256
#: A kind of area the smoothed posteriors find on less than this share of the picture is no region of its own.
MIN_CLASS_SHARE = 0.01
#: Rounds of the mean field, and the weight of a position's neighbourhood against its own description.
SMOOTHING_ROUNDS = 5
SMOOTHING_WEIGHT = 4.0
#: A piece of a region smaller than this share of the picture is merged into its neighbour.
MIN_PIECE_SHARE = 0.004
#: ``semantic`` takes 2 to this many regions.
MAX_REGIONS = 8
#: The smallest photo side worth segmenting (relu5_1 has a position per 16 pixels).
MIN_SEGMENT_SIDE = 64


@dataclass
class Segmentation:
    """Regions of one picture.

    Attributes:
        labels: ``(H, W)`` int64, the region of each pixel, 0..count-1, regions numbered from the top of the
            picture down (by the mean row of their pixels).
        descriptors: ``(count, D)``, each region's mean normalised deep features (comparable between pictures).
    """

    labels: torch.Tensor
    descriptors: torch.Tensor

    @property
    def count(self) -> int:
        return self.descriptors.shape[0]

    def masks(self) -> list[torch.Tensor]:
        """One hard ``(1, 1, H, W)`` mask per region."""
        return [(self.labels == index).float()[None, None] for index in range(self.count)]


@cache
def _encoder() -> VGGEncoder:
    return VGGEncoder.load(FEATURE_WEIGHTS).to_layout(choose_layout("auto", torch.device("cpu"), inference=True))


def _grid_size(height: int, width: int) -> tuple[int, int]:
    scale = WORK_SIDE / max(height, width)
    return max(4, round(height * scale / 4)), max(4, round(width * scale / 4))


def _principal(features: torch.Tensor, dimensions: int) -> torch.Tensor:
    """``(N, C)`` features centred and projected on their ``dimensions`` main directions, scaled so that the
    block's total variance is 1."""
    centred = features - features.mean(dim=0)
    _, vectors = eigh(centred.T @ centred)
    projected = centred @ vectors[:, -dimensions:]
    return projected / projected.var(dim=0).sum().clamp_min(1e-12).sqrt()


def _grid_features(image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, tuple[int, int]]:
    """Per grid position of ``image``: each layer's normalised features, the colour in CIELAB, and the grid."""
    height, width = image.shape[-2:]
    grid = _grid_size(height, width)
    scale = WORK_SIDE / max(height, width)
    work = functional.interpolate(
        image, size=(round(height * scale), round(width * scale)), mode="bilinear", antialias=True
    )
    cpu = torch.device("cpu")
    encoder, dtype = _encoder(), choose_precision("auto", cpu)
    with torch.inference_mode(), autocast(cpu, dtype):
        activations = encoder(work)
    layers = []
    for layer in FEATURE_WEIGHTS:
        features = functional.interpolate(activations[layer].float(), size=grid, mode="bilinear")
        layers.append(functional.normalize(features[0].flatten(1).T, dim=1))
    small = functional.interpolate(image, size=grid, mode="area")[0].permute(1, 2, 0).numpy()
    lab = torch.from_numpy(cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2Lab)).reshape(-1, 3)
    return layers, lab, grid


def _class_inputs(deep: torch.Tensor, lab: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """What the region classifier reads of each position: its deep features, colour and height in the picture."""
    rows = torch.linspace(0, 1, grid[0]).view(-1, 1).expand(grid).reshape(-1, 1)
    return torch.cat([deep, lab / 100, rows], dim=1)


def class_inputs(image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """The region classifier's inputs for every grid position of ``image``, and the grid's size."""
    layers, lab, grid = _grid_features(image.float().cpu())
    return _class_inputs(torch.cat(layers, dim=1), lab, grid), grid


@cache
def _classifier() -> dict[str, torch.Tensor]:
    return load_file(REGION_CLASSIFIER)


def class_posteriors(inputs: torch.Tensor, classifier: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """``(N, len(REGION_CLASSES))`` probabilities of each kind of area for inputs of :func:`class_inputs`, by
    ``classifier`` (the tensors of a region classifier; the shipped one by default)."""
    classifier = classifier or _classifier()
    standardised = (inputs - classifier["mean"]) / classifier["std"]
    return (standardised @ classifier["weight"].T + classifier["bias"]).softmax(dim=1)


@dataclass
class Description:
    """Every grid position of a picture, described (:func:`describe`).

    Attributes:
        points: ``(N, D)``, what positions are clustered by: deep features, colour, place and posteriors.
        deep: ``(N, E)``, the normalised deep features alone (comparable between pictures).
        posteriors: ``(N, len(REGION_CLASSES))``, the region classifier's probabilities of each kind of area.
        grid: the grid's ``(rows, columns)``.
    """

    points: torch.Tensor
    deep: torch.Tensor
    posteriors: torch.Tensor
    grid: tuple[int, int]


def describe(image: torch.Tensor, classifier: dict[str, torch.Tensor] | None = None) -> Description:
    """The description of every grid position of ``image`` (``(1, 3, H, W)`` RGB in 0..1), with the posteriors
    of ``classifier`` (the shipped region classifier by default)."""
    layers, lab, grid = _grid_features(image)
    blocks = [weight * _principal(features, FEATURE_DIMENSIONS)
              for weight, features in zip(FEATURE_WEIGHTS.values(), layers, strict=True)]  # fmt: skip
    deep = torch.cat(layers, dim=1)
    centred = lab - lab.mean(dim=0)
    blocks.append(COLOR_WEIGHT * centred / centred.var(dim=0).sum().clamp_min(1.0).sqrt())
    rows, columns = torch.meshgrid(torch.linspace(0, 1, grid[0]), torch.linspace(0, 1, grid[1]), indexing="ij")
    place = torch.stack([rows * grid[0], columns * grid[1]], dim=-1).reshape(-1, 2) / max(grid)
    blocks.append(POSITION_WEIGHT * (place - place.mean(dim=0)) / place.var(dim=0).sum().sqrt())
    posteriors = class_posteriors(_class_inputs(deep, lab, grid), classifier)
    blocks.append(CLASS_WEIGHT * posteriors)
    return Description(torch.cat(blocks, dim=1), deep, posteriors, grid)


def _kmeans(points: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-4)
    data = np.ascontiguousarray(points.numpy(), dtype=np.float32)
    _, labels, _ = cv2.kmeans(data, count, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    return torch.from_numpy(labels.ravel()).long()


def _mean_field(unary: torch.Tensor, guide: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``(N, C)`` shares of each position's labels after :data:`SMOOTHING_ROUNDS` rounds of an edge-aware mean
    field over ``unary`` (``(N, C)`` log-likelihoods), ``guide`` the picture at the grid's size."""
    unary = unary.T.reshape(1, -1, *grid)
    shares = unary.softmax(dim=1)
    radius = max(1, round(max(grid) / 48))
    for _ in range(SMOOTHING_ROUNDS):
        neighbourhood = smooth(guide, shares, radius, eps=1e-2)
        shares = (unary + SMOOTHING_WEIGHT * neighbourhood).softmax(dim=1)
    return shares[0].flatten(1).T


def _by_kind(posteriors: torch.Tensor, guide: torch.Tensor, grid: tuple[int, int], count: int) -> torch.Tensor:
    """``(N,)`` region of each position: its likeliest kind by the smoothed ``posteriors`` among the kinds that
    cover at least :data:`MIN_CLASS_SHARE` of the grid, at most ``count`` of them, the largest first."""
    shares = _mean_field(posteriors.clamp_min(1e-4).log(), guide, grid)
    area = torch.bincount(shares.argmax(dim=1), minlength=shares.shape[1]) / shares.shape[0]
    kept = [kind for kind in area.argsort(descending=True).tolist() if area[kind] >= MIN_CLASS_SHARE][:count]
    return shares[:, kept].argmax(dim=1)


def _split(points: torch.Tensor, labels: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """``labels`` (``(N,)``, regions 0..k-1 of ``points``) with the region whose points vary most cut in two by
    k-means, again and again, until there are ``count``."""
    labels = labels.clone()
    for new in range(int(labels.max()) + 1, count):
        members = (points[labels == r] for r in range(new))
        spread = [float((region - region.mean(dim=0)).pow(2).sum()) for region in members]
        widest = (labels == int(np.argmax(spread))).nonzero().flatten()
        halves = _kmeans(points[widest], 2, seed)
        labels[widest[halves == 1]] = new
    return labels


def _refine(points: torch.Tensor, labels: torch.Tensor, guide: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``labels`` redrawn by the whole description: each position's distances to the regions' mean points,
    smoothed by :func:`_mean_field`."""
    centres = torch.stack([points[labels == r].mean(dim=0) for r in range(int(labels.max()) + 1)])
    distances = torch.cdist(points, centres).pow(2)
    temperature = distances.min(dim=1).values.mean().clamp_min(1e-6)
    return _mean_field(-distances / temperature, guide, grid).argmax(dim=1)


def _merge_specks(labels: np.ndarray, count: int) -> np.ndarray:
    """Every piece of a region, but the region's largest, smaller than :data:`MIN_PIECE_SHARE` of the picture
    joins the region it shares the longest border with."""
    labels = labels.copy()
    smallest = MIN_PIECE_SHARE * labels.size
    kernel = np.ones((3, 3), np.uint8)
    pieces = []
    for index in range(count):
        number, components, stats, _ = cv2.connectedComponentsWithStats((labels == index).astype(np.uint8), 8)
        areas = stats[1:, cv2.CC_STAT_AREA]
        if len(areas) == 0:
            continue
        largest = int(areas.argmax()) + 1
        pieces += [(areas[piece - 1], components == piece) for piece in range(1, number) if piece != largest]
    for area, piece in sorted(pieces, key=lambda item: item[0]):
        if area >= smallest:
            break
        border = cv2.dilate(piece.astype(np.uint8), kernel).astype(bool) & ~piece
        neighbours = labels[border]
        if neighbours.size:
            labels[piece] = np.bincount(neighbours, minlength=count).argmax()
    return labels


def _snap(labels: np.ndarray, image: torch.Tensor, count: int) -> torch.Tensor:
    """Grid labels brought to the size of ``image`` with their borders on its edges."""
    height, width = image.shape[-2:]
    scale = min(1.0, SNAP_SIDE / max(height, width))
    fit_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    one_hot = functional.one_hot(torch.from_numpy(labels).long(), count).permute(2, 0, 1)[None].float()
    shares = functional.interpolate(one_hot, size=fit_size, mode="bilinear", align_corners=False)
    guide = functional.interpolate(image, size=fit_size, mode="area") if scale < 1 else image
    radius = max(2, round(max(fit_size) / 64))
    snapped = fit_local_affine(guide, shares, radius=radius, eps=1e-3).apply(image)
    return snapped[0].argmax(dim=0)


def _order_from_top(labels: torch.Tensor, count: int) -> torch.Tensor:
    rows = torch.arange(labels.shape[0], dtype=torch.float64).view(-1, 1).expand_as(labels)
    mean_rows = [float(rows[labels == index].mean()) if bool((labels == index).any()) else math.inf
                 for index in range(count)]  # fmt: skip
    order = sorted(range(count), key=mean_rows.__getitem__)
    renumber = torch.empty(count, dtype=torch.long)
    renumber[torch.tensor(order)] = torch.arange(count)
    return renumber[labels]


def check_segmentable(image: torch.Tensor, count: int, what: str = "photo") -> None:
    """Raise :class:`InputError` if ``image`` cannot be split into ``count`` regions."""
    if not 2 <= count <= MAX_REGIONS:
        raise InputError(f"the number of regions must be 2 to {MAX_REGIONS}, got {count}")
    if min(image.shape[-2:]) < MIN_SEGMENT_SIDE:
        height, width = image.shape[-2:]
        raise InputError(f"the {what} is {width}x{height}; regions need at least {MIN_SEGMENT_SIDE} px a side")


def segment(
    image: torch.Tensor,
    count: int,
    seed: int = 0,
    what: str = "photo",
    classifier: dict[str, torch.Tensor] | None = None,
) -> Segmentation:
    """Split ``image`` (``(1, 3, H, W)`` RGB in 0..1) into ``count`` regions by meaning, top region first;
    ``classifier`` replaces the shipped region classifier (to judge another one).

    Raises:
        InputError: ``count`` outside 2..:data:`MAX_REGIONS`, a picture too small, or one too uniform to hold
            ``count`` different regions.

    Example:
        >>> top = torch.tensor([0.3, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 40, 96)
        >>> bottom = (torch.rand(1, 3, 56, 96) * 0.3 + torch.tensor([0.1, 0.4, 0.1]).view(1, 3, 1, 1))
        >>> labels = segment(torch.cat([top, bottom], dim=2), 2).labels
        >>> bool((labels[:30] == 0).all()), bool((labels[-40:] == 1).float().mean() > 0.9)
        (True, True)
    """
    return _segment(image, count, seed, what, classifier)[0]


def _segment(
    image: torch.Tensor, count: int, seed: int, what: str, classifier: dict[str, torch.Tensor] | None = None
) -> tuple[Segmentation, torch.Tensor, tuple[int, int]]:
    """:func:`segment`'s regions, with the deep features of the grid and its size."""
    check_segmentable(image, count, what)
    image = image.float().cpu()
    description = describe(image, classifier)
    points, deep, grid = description.points, description.deep, description.grid
    guide = functional.interpolate(image, size=grid, mode="area")
    # Judged on the colours: the place in the picture, and the deep features near the borders (the
    # convolutions' padding), differ even in a flat picture.
    colors = guide[0].flatten(1).T
    if int((colors - colors[0]).abs().amax(dim=1).gt(1 / 255).sum()) < count:
        raise InputError(f"the {what} is too uniform to split into {count} regions")
    regions = _split(points, _by_kind(description.posteriors, guide, grid, count), count, seed)
    grid_labels = _merge_specks(_refine(points, regions, guide, grid).view(grid).numpy(), count)
    labels = _order_from_top(_snap(grid_labels, image, count), count)
    return Segmentation(labels, _descriptors(deep, labels, grid, count)), deep, grid


def _descriptors(deep: torch.Tensor, labels: torch.Tensor, grid: tuple[int, int], count: int) -> torch.Tensor:
    small = functional.interpolate(labels[None, None].float(), size=grid, mode="nearest")[0, 0].long().flatten()
    return torch.stack(
        [deep[small == index].mean(dim=0) if bool((small == index).any()) else deep.mean(dim=0)
         for index in range(count)]
    )  # fmt: skip


def describe_regions(image: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean deep features of each region of a label map ``labels`` (``(H, W)``, 0..count-1; −1 for pixels
    in no region) of ``image``, comparable with :attr:`Segmentation.descriptors` of any picture."""
    description = describe(image.float().cpu())
    return _descriptors(description.deep, labels, description.grid, int(labels.max()) + 1)


#: Long side the subject is cut out at (GrabCut's cost grows with pixels; the border is snapped at full size).
SUBJECT_SIDE = 224
#: Rounds of GrabCut.
SUBJECT_ROUNDS = 4
#: Clusters the picture is first split into, one of which seeds the subject.
SUBJECT_CLUSTERS = 4
#: Share of the picture's sides taken as surely background.
FRAME_SHARE = 0.02


def subject(image: torch.Tensor, seed: int = 0, what: str = "photo") -> Segmentation:
    """The main subject of ``image`` (region 0) against the rest (region 1).

    The regions of :func:`segment` that touch the picture's frame least, and lie nearest its centre, seed
    OpenCV's GrabCut as probable subject; the frame is background; the cut is snapped at full size.

    Raises:
        InputError: as :func:`segment`, or no subject stands out (the cut takes nothing or everything).
    """
    clusters, deep, grid = _segment(image, SUBJECT_CLUSTERS, seed, what)
    height, width = image.shape[-2:]
    scale = min(1.0, SUBJECT_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    labels = cv2.resize(clusters.labels.numpy().astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    rows, columns = np.mgrid[0 : size[1], 0 : size[0]]
    frame = max(1, round(FRAME_SHARE * max(size)))
    on_frame = (rows < frame) | (rows >= size[1] - frame) | (columns < frame) | (columns >= size[0] - frame)
    centre = np.hypot(rows / size[1] - 0.5, columns / size[0] - 0.5)
    scores = []
    for index in range(clusters.count):
        inside = labels == index
        framed = (inside & on_frame).sum() / max(1, on_frame.sum())
        scores.append(framed + centre[inside].mean() if inside.any() else math.inf)
    seeds = np.full(labels.shape, cv2.GC_PR_BGD, np.uint8)
    seeds[labels == int(np.argmin(scores))] = cv2.GC_PR_FGD
    seeds[on_frame] = cv2.GC_BGD
    small = functional.interpolate(image.float(), size=(size[1], size[0]), mode="area")
    pixels = np.ascontiguousarray((small[0].permute(1, 2, 0).numpy()[..., ::-1] * 255).round().astype(np.uint8))
    cv2.setRNGSeed(seed)
    cv2.grabCut(pixels, seeds, None, np.zeros((1, 65)), np.zeros((1, 65)), SUBJECT_ROUNDS, cv2.GC_INIT_WITH_MASK)
    cut = np.where((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD), 0, 1)
    share = 1 - cut.mean()
    if not MIN_PIECE_SHARE < share < 1 - MIN_PIECE_SHARE:
        raise InputError(f"no main subject stands out in the {what}; choose semantic regions")
    cut = _merge_specks(cut, 2)
    labels = _snap(cut, image.float().cpu(), 2)
    return Segmentation(labels, _descriptors(deep, labels, grid, 2))
