"""Learn the region classifier of ``--regions semantic`` from the hand-drawn maps of training photos.

    python scripts/train_region_classifier.py      # or: make region-classifier
    python scripts/train_region_classifier.py --cross-validate 3   # judge the recipe, write nothing

Reads ``training/regions/labels.json`` (photos of ``../shared/train``) and rewrites
``src/stylegram/weights/region_classes.safetensors``; refuses any photo of the benchmark's maps
(``bench/regions/ground_truth.json``) or of the validation split. Deterministic: the same maps give the same file
on the same CPU. ``--cross-validate N`` prints (and writes to ``--report``) the mean IoU of the segmentation of
each labelled photo with a classifier that never saw it, N folds, beside the colour-only ``auto``.
"""

import argparse
import json
import sys
from pathlib import Path

from stylegram.errors import InputError
from stylegram.io.files import atomic_path
from stylegram.segmentation import REGION_CLASSIFIER
from stylegram.training.regions import cross_validate, train_region_classifier

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=ROOT / "training" / "regions" / "labels.json")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("-o", "--output", type=Path, default=REGION_CLASSIFIER)
    parser.add_argument("--cross-validate", type=int, metavar="FOLDS", help="judge the recipe instead of training")
    parser.add_argument("--report", type=Path, default=ROOT / "training" / "regions" / "cross_validation.json")
    args = parser.parse_args()
    refuse = ROOT / "bench" / "regions" / "ground_truth.json"
    try:
        if args.cross_validate is not None:
            report = json.dumps(cross_validate(args.labels, args.shared, refuse, args.cross_validate), indent=1)
            with atomic_path(args.report) as temporary:
                temporary.write_text(report + "\n")
            print(report)
        else:
            print(train_region_classifier(args.labels, args.shared, args.output, refuse))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
