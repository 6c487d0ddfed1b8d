"""Throwaway: judge a variant of the region classifier's inputs by 3-fold CV and on the bench maps."""
import json, sys, time
from pathlib import Path
import torch
from torch.nn import functional
sys.path.insert(0, "/work/main/bench")
import stylegram.segmentation as seg
from stylegram.training import regions as tr
from stylegram.io.image import fit_long_side, image_to_tensor, resize
from PIL import Image

ROOT = Path("/work/main"); SHARED = ROOT.parent / "shared"
variant = sys.argv[1]
original = seg._class_inputs

def pooled(deep, grid, start, k):
    block = deep[:, start:].T.reshape(1, -1, *grid)
    p = functional.avg_pool2d(block, k, stride=1, padding=k // 2, count_include_pad=False)
    return functional.normalize(p[0].flatten(1).T, dim=1)

def ctx(deep, lab, grid):
    base = original(deep, lab, grid)
    if variant == "base":
        return base
    k = max(3, (max(grid) // 6) | 1)
    parts = [base]
    if "pool" in variant:
        parts.append(pooled(deep, grid, 256, k))
    if "glob" in variant:
        g = functional.normalize(deep[:, 768:].mean(dim=0, keepdim=True), dim=1).expand(deep.shape[0], -1)
        parts.append(g)
    if "labpool" in variant:
        l = (lab / 100).T.reshape(1, 3, *grid)
        parts.append(functional.avg_pool2d(l, k, stride=1, padding=k // 2, count_include_pad=False)[0].flatten(1).T)
    return torch.cat(parts, dim=1)

seg._class_inputs = ctx
if len(sys.argv) > 2:
    seg.CLASS_WEIGHT = float(sys.argv[2])
t = time.time()
labels = ROOT / "training/regions/labels.json"; refuse = ROOT / "bench/regions/ground_truth.json"
cv = tr.cross_validate(labels, SHARED, refuse, 3)
print(variant, "CV", cv["mean_iou_semantic"], cv["semantic_higher_on"], cv["of"], round(time.time() - t), flush=True)
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
print(variant, "BENCH", tr.summarise(figs), {n: (f["iou_semantic"], f["iou_auto"]) for n, f in figs.items()}, flush=True)
json.dump({"cv": cv, "bench": figs}, open(f"/tmp/exp/{variant}_{seg.CLASS_WEIGHT}.json", "w"), indent=1)
