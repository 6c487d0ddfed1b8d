import numpy as np, torch, cv2, time
from torch.nn import functional
from stylegram import segmentation as S

def segment3(image, count, side=48, lam=1.0, beta=None, seed=0, nvec=None):
    image = image.float()
    points, deep, grid = S.describe(image)
    # reduce grid
    h, w = grid; sc = side / max(h, w); g2 = (max(4, round(h*sc)), max(4, round(w*sc)))
    P = points.T.reshape(1, -1, h, w); P = functional.interpolate(P, size=g2, mode="area")[0].flatten(1).T
    D = deep.T.reshape(1, -1, h, w); D = functional.interpolate(D, size=g2, mode="area")[0].flatten(1).T
    D = functional.normalize(D, dim=1)
    feat = (D @ D.T).clamp_min(0)
    feat = feat ** (beta or 1)
    col = functional.interpolate(image, size=g2, mode="area")[0].flatten(1).T
    rows, cols = torch.meshgrid(torch.arange(g2[0]), torch.arange(g2[1]), indexing="ij")
    pos = torch.stack([rows, cols], -1).reshape(-1, 2).float()
    near = torch.cdist(pos, pos) <= 1.5
    cdist = torch.cdist(col, col).pow(2)
    loc = torch.exp(-cdist / (2 * 0.05**2)) * near
    W = feat + lam * loc
    d = W.sum(1)
    L = torch.eye(len(d)) - W / torch.sqrt(d[:, None] * d[None])
    vals, vecs = torch.linalg.eigh(L.double())
    k = nvec or count
    E = vecs[:, 1:k+1].float()
    E = E / d.sqrt()[:, None]
    E = functional.normalize(E - E.mean(0), dim=1)
    _, c = S._kmeans(E, count, seed)
    lab = torch.cdist(E, c).argmin(1).view(g2).numpy().astype(np.int64)
    lab = S._merge_specks(lab, count)
    return S._order_from_top(S._snap(lab, image, count), count)
