"""The public Python API. The CLI and the server are thin layers over these functions.

Example:
    >>> import stylegram
    >>> result = stylegram.stylize("photo.jpg", "painting.jpg", size=256, iterations=100)  # doctest: +SKIP
    >>> result.image.save("out.png")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from PIL import Image

from stylegram.engines import ProgressCallback, Request, Result, StyleSpec, get_engine
from stylegram.errors import InputError
from stylegram.io.image import ImageInput, image_to_tensor, load_image, resize, tensor_to_image
from stylegram.ops import color

StyleInput = ImageInput | StyleSpec | tuple[ImageInput, float]


def _style_specs(style: StyleInput | Sequence[StyleInput]) -> list[StyleSpec]:
    items = style if isinstance(style, list) else [style]
    specs = []
    for item in items:
        if isinstance(item, StyleSpec):
            specs.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            specs.append(StyleSpec(image=item[0], weight=item[1]))
        else:
            specs.append(StyleSpec(image=item))
    return specs


def engine_options(engine: str, **options: Any) -> Any:
    """Build an engine's options object from keyword arguments, refusing names it does not know."""
    options_type = get_engine(engine).options_type
    known = {field.name for field in dataclasses.fields(options_type)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown option {unknown[0]!r} for engine {engine}; known: {', '.join(sorted(known))}")
    return options_type(**options)


def stylize(
    content: ImageInput,
    style: StyleInput | Sequence[StyleInput],
    *,
    engine: str = "gatys",
    size: int | None = 512,
    seed: int = 0,
    device: str = "auto",
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Result:
    """Repaint ``content`` in the style of ``style``.

    Args:
        content: the photo, as a path or a PIL image.
        style: a painting (path or PIL image), or a list of them, each optionally ``(image, weight)`` or a
            :class:`~stylegram.engines.StyleSpec`; several styles are blended by weight.
        engine: which engine makes the picture (see ``stylegram engines``).
        size: long side of the output in pixels (None keeps the content's size).
        seed: makes the run repeatable.
        device: ``auto``, ``cpu`` or ``cuda``.
        on_progress: called with a :class:`~stylegram.engines.ProgressEvent` at every step.
        **options: the engine's options, e.g. for ``gatys`` ``iterations``, ``style_weight``, ``optimizer``
            (see :class:`~stylegram.engines.gatys.GatysOptions`).

    Returns:
        A :class:`~stylegram.engines.Result` whose ``image`` is a PIL image.

    Raises:
        InputError: a bad image, option or value, before any work is done.
    """
    request = Request(
        content=content,
        styles=_style_specs(style),
        size=size,
        seed=seed,
        device=device,
        options=engine_options(engine, **options),
    )
    return get_engine(engine).run(request, on_progress)


def preserve_colors(picture: ImageInput, content: ImageInput, method: str = "luminance") -> Image.Image:
    """Give a stylized picture (from any engine) the colours of the photo it was made from.

    Args:
        picture: the stylized picture (path or PIL image).
        content: the photo (path or PIL image); resized to the picture's size.
        method: ``luminance`` (the picture's luminance with the photo's chroma) or ``match`` (the picture's
            colours mapped to the photo's colour mean and covariance).

    Example:
        >>> from PIL import Image
        >>> grey = Image.new("RGB", (4, 4), (76, 76, 76))
        >>> preserve_colors(grey, Image.new("RGB", (8, 8), (255, 0, 0))).getpixel((0, 0))
        (255, 0, 0)
    """
    if method not in color.COLOR_METHODS[1:]:
        raise InputError(f"unknown colour method {method!r}; expected luminance or match")
    stylized = load_image(picture, what="picture")
    photo = resize(load_image(content, what="content image"), stylized.size)
    return tensor_to_image(color.preserve_colors(image_to_tensor(stylized), image_to_tensor(photo), method))
