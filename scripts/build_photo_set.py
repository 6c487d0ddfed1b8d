"""Build the training photo set from Debian wallpaper packages (apt-get download + dpkg-deb, no other network),
beside the training split of folders of photos.

    python scripts/build_photo_set.py [--out data/photos] [--packages mate-backgrounds ...]
        [--folders ../shared/train/photos ...]

The photos are not committed (see .gitignore); this script is how to make them again. Needs ``apt-get`` and
``dpkg-deb`` (any Debian or Ubuntu machine). A folder's validation pictures (training/data.py's split) are left
out; its other pictures keep their names.
"""

import argparse
from pathlib import Path

from stylegram.training.data import WALLPAPER_PACKAGES, build_photo_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/photos"))
    parser.add_argument("--packages", nargs="*", default=list(WALLPAPER_PACKAGES))
    parser.add_argument("--folders", nargs="*", default=[], help="folders of photos whose training split joins the set")
    args = parser.parse_args()
    kept = build_photo_set(args.out, args.packages, args.folders)
    print(f"{len(kept)} photos in {args.out}")


if __name__ == "__main__":
    main()
