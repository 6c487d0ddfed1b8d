"""The region classifier's training: maps drawn to pixels, a fit that learns, and photos it may not learn from."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegram.errors import InputError
from stylegram.segmentation import REGION_CLASSES
from stylegram.training.data import is_validation
from stylegram.training.regions import cross_validate, fit_classifier, mean_iou, rasterise, train_region_classifier

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "training" / "regions" / "labels.json"
BENCHMARK = ROOT / "bench" / "regions" / "ground_truth.json"


def test_polygons_are_painted_in_order_over_the_fill():
    entry = {"fill": "sky", "polygons": [
        {"class": "water", "points": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]},
        {"class": "other", "points": [[0.5, 0.75], [1, 0.75], [1, 1], [0.5, 1]]},
    ]}  # fmt: skip
    drawn = rasterise(entry, (8, 8))
    assert (drawn[:3] == REGION_CLASSES.index("sky")).all()
    assert (drawn[5, :3] == REGION_CLASSES.index("water")).all()
    assert (drawn[-1, -3:] == REGION_CLASSES.index("other")).all()


def test_the_fit_separates_kinds_and_never_predicts_a_kind_nobody_drew():
    generator = torch.Generator().manual_seed(0)
    classes = torch.randint(0, 3, (600,), generator=generator) * 2  # sky, water and person only
    inputs = torch.randn(600, 5, generator=generator) * 0.3
    inputs[:, 0] += classes.float()
    inputs[:, 1] += 5.0  # far from zero: standardising must take it away
    fitted = fit_classifier(inputs, classes)
    logits = ((inputs - fitted["mean"]) / fitted["std"]) @ fitted["weight"].T + fitted["bias"]
    assert (logits.argmax(dim=1) == classes).float().mean() > 0.95
    assert set(logits.argmax(dim=1).unique().tolist()) <= {0, 2, 4}


def test_the_labelled_photos_are_training_photos_the_benchmark_does_not_judge():
    labelled = {Path(entry["path"]).name for entry in json.loads(LABELS.read_text())["photos"].values()}
    judged = {Path(entry["path"]).name for entry in json.loads(BENCHMARK.read_text())["photos"].values()}
    assert len(labelled) >= 20 and not labelled & judged
    assert not any(is_validation(name) for name in labelled)


def test_a_benchmark_photo_among_the_maps_is_refused(tmp_path):
    entry = {"path": "train/photos/kodak_kodim08.jpg", "fill": "sky", "polygons": []}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"classes": list(REGION_CLASSES), "photos": {"kodim08": entry}}))
    output = tmp_path / "classifier.safetensors"
    with pytest.raises(InputError, match="kodim08 is a benchmark or validation photo"):
        train_region_classifier(labels, tmp_path, output, BENCHMARK)
    assert not output.exists()


def test_other_classes_are_refused(tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"classes": ["sky", "ground"], "photos": {}}))
    with pytest.raises(InputError, match="names the classes"):
        train_region_classifier(labels, tmp_path, tmp_path / "out.safetensors", BENCHMARK)


def test_mean_iou_pairs_regions_with_classes_at_best():
    truth = np.array([[0, 0, 2, 2], [0, 0, 2, 2]])
    assert mean_iou(np.array([[1, 1, 0, 0], [1, 1, 0, 0]]), truth, [0, 2]) == 1.0
    assert mean_iou(np.array([[0, 0, 0, 1], [0, 0, 0, 1]]), truth, [0, 2]) == pytest.approx((2 / 3 + 1 / 2) / 2)


def _sky_over_forest(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, 96)[:, None, None]
    sky = np.broadcast_to(np.array([90, 150, 230]) + 20 * rows, (96, 256, 3))
    forest = np.array([40, 100, 30]) + rng.normal(0, 35, (96, 256, 3))
    return Image.fromarray(np.clip(np.concatenate([sky, forest]), 0, 255).astype(np.uint8))


def test_cross_validation_segments_each_photo_with_a_classifier_that_never_saw_it(tmp_path):
    names = [name for name in (f"scene{i}" for i in range(40)) if not is_validation(f"{name}.jpg")][:3]
    photos = {}
    for seed, name in enumerate(names):
        _sky_over_forest(seed).save(tmp_path / f"{name}.jpg")
        forest = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
        photos[name] = {"path": f"{name}.jpg", "fill": "sky", "polygons": [{"class": "vegetation", "points": forest}]}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"classes": list(REGION_CLASSES), "photos": photos}))
    result = cross_validate(labels, tmp_path, BENCHMARK, folds=3)
    assert sorted(result["photos"]) == sorted(names)
    assert all(figure["regions"] == 2 and figure["iou_semantic"] > 0.9 for figure in result["photos"].values())
    with pytest.raises(InputError, match="at least 2 folds"):
        cross_validate(labels, tmp_path, BENCHMARK, folds=1)
    with pytest.raises(InputError, match="3 labelled photos cannot make 4 folds"):
        cross_validate(labels, tmp_path, BENCHMARK, folds=4)
