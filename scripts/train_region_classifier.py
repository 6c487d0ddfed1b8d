"""Learn the region classifier of ``--regions semantic`` from the hand-drawn maps of training photos.

    python scripts/train_region_classifier.py      # or: make region-classifier

Reads ``training/regions/labels.json`` (photos of ``../shared/train``) and rewrites
``src/stylegram/weights/region_classes.safetensors``; refuses any photo of the benchmark's maps
(``bench/regions/ground_truth.json``) or of the validation split. Deterministic: the same maps give the same file
on the same CPU.
"""

import argparse
import sys
from pathlib import Path

from stylegram.errors import InputError
from stylegram.segmentation import REGION_CLASSIFIER
from stylegram.training.regions import train_region_classifier

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=ROOT / "training" / "regions" / "labels.json")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("-o", "--output", type=Path, default=REGION_CLASSIFIER)
    args = parser.parse_args()
    try:
        path = train_region_classifier(
            args.labels, args.shared, args.output, ROOT / "bench" / "regions" / "ground_truth.json"
        )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
