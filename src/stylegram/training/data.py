"""Training pictures: the split into training and validation, a photo set, and random crops.

Every folder of pictures is split by :func:`is_validation`, a hash of each file's name: one picture in
``VALIDATION_EVERY`` is held out, whatever machine or folder it is read on. Training reads the training split
only (``split="train"``, the default of :func:`image_paths` and :class:`PhotoCrops`); benchmarks judge learned
models on the validation split.

Nothing is downloaded at run time. :func:`build_photo_set` is run once (``scripts/build_photo_set.py``) with
the system's package manager: ``apt-get download`` fetches Debian's wallpaper packages, ``dpkg-deb -x`` unpacks
them, and every picture that is detailed enough (abstract gradients teach a style network nothing) and not a
copy of one already taken (packages ship one picture at many resolutions) is stored at a short side of
``STORED_SHORT_SIDE`` px, beside the training split of any folders given (``../shared/train/photos``).
:class:`PhotoCrops` then serves random crops, rescales and flips of those photos, so a few hundred pictures give
an endless stream of different training inputs.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylegram.errors import InputError
from stylegram.io.image import image_to_tensor, load_image, pictures_in

#: Debian packages whose wallpapers include real photos (landscapes, plants, animals, cities).
WALLPAPER_PACKAGES = (
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "ukui-wallpapers",
    "gnome-backgrounds",
)
STORED_SHORT_SIDE = 512
#: Mean absolute Laplacian (0..255 grey at 256 px wide) below which a picture is a smooth gradient, not a photo.
MIN_DETAIL = 5.0
#: One picture in this many is held out for validation, chosen by a hash of its file name alone: the split is
#: the same on every machine, whatever else is in the folder, and a picture never changes sides.
VALIDATION_EVERY = 4
#: Crops in the fixed batch of validation pictures a training run measures itself on.
VALIDATION_BATCH = 8
#: Which pictures of a folder :func:`image_paths` returns.
SPLITS = ("train", "validation", "all")


def is_validation(path: str | Path) -> bool:
    """Whether a picture of ``../shared/train`` (or any set) belongs to the validation split.

    Nothing learnt may see a validation picture; every quality figure of a learned model is taken on them. The
    bench images are validation pictures whatever their name.

    Example:
        >>> [is_validation(name) for name in ("kodak_kodim06.jpg", "kodak_kodim07.jpg")]
        [True, False]
    """
    digest = hashlib.sha256(Path(path).name.encode()).digest()
    return int.from_bytes(digest[:4], "big") % VALIDATION_EVERY == 0


def detail(image: Image.Image) -> float:
    """Mean absolute Laplacian of the picture in grey at 256 px wide: ~0 for flat gradients, >5 for photos.

    Example:
        >>> detail(Image.new("RGB", (64, 64), "red"))
        0.0
    """
    width, height = image.size
    grey = np.asarray(image.convert("L").resize((256, max(3, round(256 * height / width)))), dtype=np.float32)
    laplacian = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(np.abs(laplacian).mean())


def _thumbnail(image: Image.Image) -> np.ndarray:
    """16×16 grey: near-equal for the same picture stored at different resolutions."""
    return np.asarray(image.convert("L").resize((16, 16), Image.Resampling.BOX), dtype=np.float32)


#: Mean difference of two thumbnails (0..255) under which two pictures are taken to be the same.
SAME_PICTURE = 4.0


def in_split(path: str | Path, split: str) -> bool:
    """Whether the picture ``path`` belongs to ``split`` (``train``, ``validation`` or ``all``).

    Example:
        >>> in_split("kodak_kodim06.jpg", "train"), in_split("kodak_kodim06.jpg", "all")
        (False, True)
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    return split == "all" or is_validation(path) == (split == "validation")


def collect_photos(sources: Iterable[Path], destination: Path, min_detail: float = MIN_DETAIL) -> list[Path]:
    """Store every detailed, distinct picture of ``sources`` in ``destination`` as JPEG; return what was kept.

    A picture keeps its file name (so it stays on its side of the split), with a digest added when two
    sources share a name.
    """
    destination.mkdir(parents=True, exist_ok=True)
    seen: list[np.ndarray] = []
    kept: list[Path] = []
    for source in sorted(sources):
        try:
            image = load_image(source)
        except InputError:
            continue
        if min(image.size) < 256 or detail(image) < min_detail:
            continue
        thumbnail = _thumbnail(image)
        if any(np.abs(thumbnail - other).mean() < SAME_PICTURE for other in seen):
            continue
        seen.append(thumbnail)
        scale = STORED_SHORT_SIDE / min(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        path = destination / f"{source.stem}.jpg"
        if path in kept:
            path = destination / f"{source.stem}_{hashlib.sha1(thumbnail.tobytes()).hexdigest()[:8]}.jpg"
        image.save(path, quality=92)
        kept.append(path)
    return kept


def build_photo_set(
    destination: Path, packages: Iterable[str] = WALLPAPER_PACKAGES, folders: Sequence[str | Path] = ()
) -> list[Path]:
    """Download the wallpaper ``packages`` with apt, unpack them, and keep their photos in ``destination``, with
    the training split of the pictures in ``folders``."""
    with tempfile.TemporaryDirectory(prefix="stylegram-photos-") as work:
        work_path = Path(work)
        for package in packages:
            subprocess.run(["apt-get", "download", package], cwd=work_path, check=True, capture_output=True)
        for deb in work_path.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(work_path / "root")], check=True)
        pictures = [path for path in pictures_in(work_path / "root") if path.is_file()]
        return collect_photos(pictures + (image_paths(folders) if folders else []), destination)


def _pictures_in(folder: Path, split: str) -> list[Path]:
    return [path for path in pictures_in(folder) if in_split(path, split)]


def image_paths(sources: str | Path | Sequence[str | Path], split: str = "train") -> list[Path]:
    """The pictures of ``split`` in a folder (searched recursively; none if it does not exist), or in a list of
    folders and picture files; a file named on its own is taken whatever its split.

    Raises:
        InputError: a listed file or folder that does not exist.
    """
    if isinstance(sources, str | Path):  # one folder: missing is empty, which callers explain
        return _pictures_in(Path(sources), split)
    found = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found += _pictures_in(path, split)
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"no such file or folder: {path}")
    return found


class PhotoCrops:
    """An endless, seeded stream of batches of random square crops of the photos in a folder.

    Each crop takes a random square of 35–100 % of the photo's short side, resized to ``size``, flipped left to
    right half the time: a few dozen photos become many different views.

    Args:
        folder: a folder of photos (or one made by :func:`build_photo_set`), or a list of folders and pictures.
        size: side of the crops in pixels.
        seed: seeds the choice of photos and crops.
        split: the pictures of the folders taken (:func:`image_paths`): the training split unless told.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> Image.radial_gradient("L").convert("RGB").save(folder / "a.png")
        >>> next(PhotoCrops(folder, size=32).batches(4)).shape
        torch.Size([4, 3, 32, 32])
    """

    def __init__(
        self, folder: str | Path | Sequence[str | Path], size: int = 256, seed: int = 0, split: str = "train"
    ) -> None:
        self.paths = image_paths(folder, split)
        if not self.paths:
            raise InputError(f"no {split} pictures in {folder}; build the photo set with scripts/build_photo_set.py")
        self.size = size
        self.generator = np.random.default_rng(seed)
        self._cache: dict[Path, Image.Image] = {}

    def _photo(self, path: Path) -> Image.Image:
        if path not in self._cache:
            self._cache[path] = load_image(path)
        return self._cache[path]

    def crop(self) -> torch.Tensor:
        """One random crop, ``(3, size, size)`` in 0..1."""
        photo = self._photo(self.paths[self.generator.integers(len(self.paths))])
        side = round(min(photo.size) * self.generator.uniform(0.35, 1.0))
        side = max(side, min(self.size, *photo.size))
        left = self.generator.integers(photo.width - side + 1)
        top = self.generator.integers(photo.height - side + 1)
        crop = photo.crop((left, top, left + side, top + side)).resize(
            (self.size, self.size), Image.Resampling.BILINEAR
        )
        if self.generator.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return image_to_tensor(crop)[0]

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Batches of ``(batch_size, 3, size, size)`` crops, forever."""
        while True:
            yield torch.stack([self.crop() for _ in range(batch_size)])


def validation_crops(folder: str | Path | Sequence[str | Path], size: int, count: int) -> torch.Tensor | None:
    """The same ``count`` crops of the validation pictures of ``folder`` at every call (what a run measures
    itself on as it trains), or None when it holds no validation pictures."""
    try:
        return next(PhotoCrops(folder, size, seed=0, split="validation").batches(count))
    except InputError:
        return None
