import json, itertools, time, sys
import numpy as np, torch
from PIL import Image, ImageDraw
from stylegram.io.image import image_to_tensor
from stylegram.ops.masks import segment_regions
from stylegram import segmentation as S
torch.set_num_threads(1)
gt = json.load(open("bench/regions/ground_truth.json"))
classes = gt["classes"]
def raster(p, size):
    im = Image.new("L", size, classes.index(p["fill"])); d = ImageDraw.Draw(im)
    for poly in p["polygons"]:
        d.polygon([(x*size[0], y*size[1]) for x, y in poly["points"]], fill=classes.index(poly["class"]))
    return np.asarray(im)
def miou(pred, truth):
    present = [c for c in np.unique(truth) if (truth == c).mean() >= 0.01]
    K = len(present); best = 0
    ious = np.zeros((K, K))
    for i in range(K):
        for j, c in enumerate(present):
            a, b = pred == i, truth == c
            ious[i, j] = (a & b).sum() / max(1, (a | b).sum())
    for perm in itertools.permutations(range(K)):
        best = max(best, np.mean([ious[perm[j], j] for j in range(K)]))
    return best
res = []
pal = np.array([(230,60,60),(40,200,40),(80,160,255),(250,220,0),(160,60,200),(0,200,200),(255,140,0),(120,120,120)], np.uint8)
tiles = []
for name, p in gt["photos"].items():
    im = Image.open("../shared/" + p["path"]).convert("RGB"); im.thumbnail((512, 512))
    truth = raster(p, im.size)
    K = len([c for c in np.unique(truth) if (truth == c).mean() >= 0.01])
    x = image_to_tensor(im)
    t = time.perf_counter(); sem = S.segment(x, K).labels.numpy(); dt = time.perf_counter() - t
    auto = torch.cat(segment_regions(x, K), 1)[0].argmax(0).numpy()
    a, s = miou(auto, truth), miou(sem, truth)
    res.append((a, s)); print(f"{name:20s} K={K} auto {a:.3f} semantic {s:.3f}  {dt:.2f}s", flush=True)
    tile = np.concatenate([np.asarray(im), pal[truth], pal[auto], pal[sem]], 1)
    tiles.append(Image.fromarray(tile).resize((1024, 1024 * tile.shape[0] // tile.shape[1])))
sh = Image.new("RGB", (1024, sum(t.height for t in tiles))); y = 0
for t in tiles: sh.paste(t, (0, y)); y += t.height
sh.save("/tmp/gt/segsheet.png")
print("mean auto %.3f semantic %.3f" % tuple(np.mean(res, 0)))
