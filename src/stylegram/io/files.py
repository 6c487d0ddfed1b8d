"""Writing files so that nothing is ever half-written under its final name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: How much of the final name a temporary name keeps: with its dot, random part and suffix it stays under the
#: 255 bytes most file systems allow, whatever the length of the final name.
_TEMPORARY_STEM = 40


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".part") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends normally,
    deleted when it raises (an existing file at ``path`` is then left as it was).

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_path(target) as temporary:
        ...     _ = temporary.write_text("done")
        >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
        ('done', ['out.txt'])
    """
    temporary = _temporary_beside(Path(path), suffix)
    try:
        yield temporary
        os.chmod(temporary, 0o644)
        os.replace(temporary, Path(path))
    finally:
        temporary.unlink(missing_ok=True)


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same path once resolved, or (both existing) the same inode, which
    also catches hard links.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / "a.png").write_bytes(b"x")
        1
        >>> same_file(folder / "a.png", folder / "." / "a.png"), same_file(folder / "a.png", folder / "b.png")
        (True, False)
    """
    first, second = Path(first), Path(second)
    if first.resolve() == second.resolve():
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def input_files(values: Iterable[object]) -> list[Path]:
    """The values that name existing files (a ``PATH:WEIGHT`` is taken as ``PATH`` too); other values, as
    images in memory, style names or numbers, are left out."""
    files = []
    for value in values:
        if not isinstance(value, str | os.PathLike):
            continue
        text = os.fspath(value)
        for candidate in (text, text.rpartition(":")[0]):
            if candidate and os.path.isfile(candidate):
                files.append(Path(candidate))
                break
    return files


def check_writable(path: Path) -> None:
    """Create and remove a file beside ``path`` under the same kind of temporary name :func:`atomic_path` uses,
    so a folder that cannot be written (read-only, full of inodes, a name too long) is found before any work.

    Raises:
        OSError: as creating the file raised it.
    """
    _temporary_beside(path, ".part").unlink()


def _temporary_beside(path: Path, suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name[:_TEMPORARY_STEM]}.", suffix=suffix, dir=path.parent)
    os.close(handle)
    return Path(name)
