import numpy as np, torch, cv2
from torch.nn import functional
from stylegram import segmentation as S

def pieces(labels):
    out = np.zeros_like(labels); n = 0
    for v in np.unique(labels):
        k, comp = cv2.connectedComponents((labels == v).astype(np.uint8), connectivity=4)
        m = comp > 0; out[m] = comp[m] - 1 + n; n += k - 1
    return out, n

def ward(points, grid_pieces, n, K, penalty):
    P = points.numpy().astype(np.float64)
    lab = grid_pieces.ravel()
    sizes = np.bincount(lab, minlength=n).astype(np.float64)
    sums = np.zeros((n, P.shape[1])); np.add.at(sums, lab, P)
    adj = np.zeros((n, n), bool)
    g = grid_pieces
    a, b = g[:, 1:].ravel(), g[:, :-1].ravel(); adj[a, b] = adj[b, a] = True
    a, b = g[1:, :].ravel(), g[:-1, :].ravel(); adj[a, b] = adj[b, a] = True
    np.fill_diagonal(adj, False)
    alive = list(range(n)); parent = np.arange(n)
    while len(alive) > K:
        A = np.array(alive); means = sums[A] / sizes[A, None]; s = sizes[A]
        d = ((means[:, None] - means[None]) ** 2).sum(-1) * (s[:, None] * s[None] / (s[:, None] + s[None]))
        d = np.where(adj[np.ix_(A, A)], d, d * penalty)
        np.fill_diagonal(d, np.inf)
        i, j = np.unravel_index(d.argmin(), d.shape); i, j = A[i], A[j]
        sums[i] += sums[j]; sizes[i] += sizes[j]; adj[i] |= adj[j]; adj[:, i] |= adj[:, j]; adj[i, i] = False
        parent[parent == j] = i; alive.remove(j)
    remap = {r: k for k, r in enumerate(alive)}
    return np.vectorize(remap.get)(parent[lab]).reshape(g.shape)

def segment2(image, count, M=16, penalty=3.0, seed=0):
    image = image.float()
    points, deep, grid = S.describe(image)
    _, centres = S._kmeans(points, M, seed)
    guide = functional.interpolate(image, size=grid, mode="area")
    gl = S._merge_specks(S._mean_field(points, centres, guide, grid).view(grid).numpy(), M)
    gp, n = pieces(gl)
    merged = ward(points, gp, n, count, penalty)
    return S._order_from_top(S._snap(merged, image, count), count)
