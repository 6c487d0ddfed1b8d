"""Make the real files the professional-output tests read (tests/data/), from the example Tübingen photo.

- ``logo.png``: an RGBA logo (a disc and a bar over full transparency, antialiased edges), 96×64.
- ``tubingen_16bit.tif``: the photo at 96×72 in 16 bits a channel, each pixel the mean of a block of the
  full-size photo, so it has far more than 256 levels, as a scanner's or raw converter's output does.
- ``tubingen_adobergb.jpg``: the photo at 96×72 converted to Adobe RGB (1998) with that profile embedded, as
  a camera set to Adobe RGB writes it.

Run once from the checkout: ``.venv/bin/python scripts/make_test_files.py``.
"""

from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PHOTO = ROOT / "examples" / "images" / "tubingen.jpg"


def logo() -> Image.Image:
    scale = 4  # drawn large, then reduced: antialiased, partly transparent edges
    big = Image.new("RGBA", (96 * scale, 64 * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    draw.ellipse((8 * scale, 8 * scale, 56 * scale, 56 * scale), fill=(220, 60, 40, 255))
    draw.rectangle((48 * scale, 24 * scale, 90 * scale, 40 * scale), fill=(30, 90, 200, 200))
    return big.resize((96, 64), Image.Resampling.LANCZOS)


def main() -> None:
    logo().save(DATA / "logo.png")
    photo = np.asarray(Image.open(PHOTO).convert("RGB"), dtype=np.float64) / 255.0
    deep = cv2.resize(photo, (96, 72), interpolation=cv2.INTER_AREA)
    tifffile.imwrite(DATA / "tubingen_16bit.tif", np.round(deep * 65535).astype(np.uint16), photometric="rgb")
    adobe = ImageCms.ImageCmsProfile(str(DATA / "compatibleWithAdobeRGB1998.icc"))
    small = Image.open(PHOTO).convert("RGB").resize((96, 72), Image.Resampling.LANCZOS)
    converted = ImageCms.profileToProfile(small, ImageCms.createProfile("sRGB"), adobe, outputMode="RGB")
    converted.save(DATA / "tubingen_adobergb.jpg", quality=95, icc_profile=adobe.tobytes())


if __name__ == "__main__":
    main()
