import json, itertools, time, sys
import numpy as np, torch
from PIL import Image, ImageDraw
from stylegram.io.image import image_to_tensor
from stylegram import segmentation as S
torch.set_num_threads(1)
exec(open("/tmp/gt/proto.py").read().split("res = []")[0].split("torch.set_num_threads(1)")[1])
enc = S._encoder(); cache = {}
class Cached:
    def __call__(self, x):
        k = (x.shape, float(x.sum()))
        if k not in cache: cache[k] = enc(x)
        return cache[k]
S._encoder = lambda: Cached()
data = []
for name, p in gt["photos"].items():
    im = Image.open("../shared/" + p["path"]).convert("RGB"); im.thumbnail((512, 512))
    truth = raster(p, im.size); K = len([c for c in np.unique(truth) if (truth == c).mean() >= 0.01])
    data.append((name, image_to_tensor(im), truth, K))
for pos, col, r3, r5 in itertools.product([0.15, 0.3, 0.5], [0.5, 1.0], [0.3, 0.6], [1.0, 1.5]):
    S.POSITION_WEIGHT, S.COLOR_WEIGHT = pos, col
    S.FEATURE_WEIGHTS.update({"relu3_1": r3, "relu5_1": r5})
    scores = [miou(S.segment(x, K).labels.numpy(), t) for _, x, t, K in data]
    print(pos, col, r3, r5, "%.3f" % np.mean(scores), " ".join("%.2f" % s for s in scores), flush=True)
