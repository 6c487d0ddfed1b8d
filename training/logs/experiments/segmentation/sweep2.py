import sys; sys.path.insert(0, "/tmp/gt")
exec(open("/tmp/gt/sweep.py").read().split("for pos, col")[0])
from ward import segment2
import itertools
for M, pen in itertools.product([12, 24], [1.5, 3.0, 10.0]):
    scores = [miou(segment2(x, K, M, pen).numpy(), t) for _, x, t, K in data]
    print(M, pen, "%.3f" % np.mean(scores), " ".join("%.2f" % s for s in scores), flush=True)
