import sys; sys.path.insert(0, "/tmp/gt")
exec(open("/tmp/gt/sweep.py").read().split("for pos, col")[0])
from spec import segment3
import itertools, time
for side, lam, beta in [(48, 1.0, 1), (48, 3.0, 1), (48, 1.0, 3), (64, 1.0, 1)]:
    t = time.perf_counter()
    scores = [miou(segment3(x, K, side, lam, beta).numpy(), t_) for _, x, t_, K in data]
    print(side, lam, beta, "%.3f" % np.mean(scores), " ".join("%.2f" % s for s in scores), "%.1fs" % (time.perf_counter()-t), flush=True)
