"""A folder of three tiny synthetic photos, the training set of every training test."""

import pytest

from .test_data import noise_photo


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(3):
        noise_photo(seed).save(folder / f"{seed}.png")
    return folder
