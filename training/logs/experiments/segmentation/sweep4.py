import sys, json, itertools, torch
sys.path.insert(0, "bench")
import numpy as np
torch.set_num_threads(1)
from regions import photos, ground_truth, present_classes, mean_iou, _fit, GROUND_TRUTH, AGREEMENT_SIDE
from stylegram.io.image import image_to_tensor, resize
from stylegram.ops.masks import segment_regions
import stylegram.segmentation as S
classes = json.loads(GROUND_TRUTH.read_text())["classes"]
data = []
for name, (photo, entry) in photos().items():
    small = resize(photo, _fit(photo.size, AGREEMENT_SIDE)); truth = ground_truth(entry, classes, small.size)
    present = present_classes(truth); t = image_to_tensor(small)
    auto = torch.cat(segment_regions(t, len(present)), 1)[0].argmax(0).numpy()
    data.append((name, t, truth, present, mean_iou(auto, truth, present)))
settings = [dict()] + [eval(a) for a in sys.argv[1:]]
for setting in settings:
    saved = {}
    for k, v in setting.items():
        if k == "FEATURE_WEIGHTS": S._encoder.cache_clear()
        saved[k] = getattr(S, k); setattr(S, k, v)
    row = []
    for name, t, truth, present, a in data:
        s = mean_iou(S.segment(t, len(present)).labels.numpy(), truth, present); row.append(s - a)
    print(setting, "mean %.3f min %.3f wins %d" % (np.mean(row), min(row), sum(r > 0.01 for r in row)), " ".join("%+.2f" % r for r in row), flush=True)
    for k, v in saved.items(): setattr(S, k, v)
    S._encoder.cache_clear()
