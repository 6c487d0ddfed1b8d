"""Throwaway: class-first segmentation (smoothed classifier argmax, then split/merge to K) by CV and bench."""
import json, sys, time
from pathlib import Path
import numpy as np, torch
from torch.nn import functional
import stylegram.segmentation as seg
from stylegram.training import regions as tr
from stylegram.io.image import fit_long_side, image_to_tensor, resize
from stylegram.ops.smoothing import smooth
from PIL import Image
ROOT = Path("/work/main"); SHARED = ROOT.parent / "shared"
MIN_SHARE = float(sys.argv[1]) if len(sys.argv) > 1 else 0.01
SMOOTH_W = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
TAG = sys.argv[3] if len(sys.argv) > 3 else "cf"

def smoothed_classes(post, guide, grid):
    unary = post.clamp_min(1e-4).log().T.reshape(1, -1, *grid)
    shares = unary.softmax(dim=1)
    radius = max(1, round(max(grid) / 48))
    for _ in range(seg.SMOOTHING_ROUNDS):
        shares = (unary + SMOOTH_W * smooth(guide, shares, radius, eps=1e-2)).softmax(dim=1)
    return shares[0].flatten(1).T  # N x C

def _segment(image, count, seed, what, classifier=None):
    seg.check_segmentable(image, count, what)
    image = image.float().cpu()
    points, deep, grid = seg.describe(image, classifier)
    guide = functional.interpolate(image, size=grid, mode="area")
    post = points[:, -len(seg.REGION_CLASSES):] / seg.CLASS_WEIGHT
    shares = smoothed_classes(post, guide, grid)
    labels = shares.argmax(1)
    mass = torch.bincount(labels, minlength=shares.shape[1]).float() / labels.numel()
    kept = [int(c) for c in mass.argsort(descending=True) if mass[c] >= MIN_SHARE][:count]
    # classes beyond count, or tiny ones: their positions go to the likeliest kept class
    labels = torch.tensor(kept)[shares[:, kept].argmax(1)]
    regions = [labels == c for c in kept]
    target = count + (2 if TAG == "cf2" else 0)
    while len(regions) < target:
        # split the region whose description varies most (summed squared deviation)
        spread = [float(((points[m] - points[m].mean(0)) ** 2).sum()) if m.sum() > 1 else -1 for m in regions]
        worst = int(np.argmax(spread)); m = regions.pop(worst)
        sub, _ = seg._kmeans(points[m], 2, seed)
        idx = m.nonzero().flatten()
        a = torch.zeros_like(m); a[idx[sub == 0]] = True
        b = torch.zeros_like(m); b[idx[sub == 1]] = True
        regions += [a, b]
    flat = torch.empty(points.shape[0], dtype=torch.long)
    for i, m in enumerate(regions): flat[m] = i
    if TAG == "cf2":
        flat = seg._merge_clusters(points, flat, count)
    if TAG == "cfinit":
        centres = torch.stack([points[flat == i].mean(0) for i in range(count)])
        flat = seg._mean_field(points, centres, guide, grid).flatten()
    grid_labels = seg._merge_specks(flat.view(grid).numpy(), count)
    labels = seg._order_from_top(seg._snap(grid_labels, image, count), count)
    return seg.Segmentation(labels, seg._descriptors(deep, labels, grid, count)), deep, grid

if TAG != "base":
    seg._segment = _segment
t = time.time()
labels = ROOT / "training/regions/labels.json"; refuse = ROOT / "bench/regions/ground_truth.json"
cv = tr.cross_validate(labels, SHARED, refuse, 3)
print(TAG, MIN_SHARE, SMOOTH_W, "CV", cv["mean_iou_semantic"], cv["semantic_higher_on"], cv["of"], round(time.time() - t), flush=True)
photos = list(tr._labelled_photos(labels, SHARED, refuse))
pos = [tr._training_positions(p, e) for _, p, e in photos]
clf = tr.fit_classifier(torch.cat([i for i, _ in pos]), torch.cat([k for _, k in pos]))
table = json.loads(refuse.read_text()); classes = table["classes"]
figs = {}
for name, entry in table["photos"].items():
    photo = Image.open(SHARED / entry["path"]).convert("RGB")
    small = resize(photo, fit_long_side(photo.size, 512))
    truth = tr.rasterise(entry, small.size, tuple(classes))
    figs[name] = tr.against_truth(image_to_tensor(small), truth, tr.present_classes(truth), clf)[0]
print(TAG, "BENCH", tr.summarise(figs), {n: (f["iou_semantic"], f["iou_auto"]) for n, f in figs.items()}, flush=True)
