import pytest
import torch

from stylegram import runtime
from stylegram.errors import InputError
from stylegram.runtime import PASS_BYTES_PER_PIXEL, choose_inference_tile, choose_tile_size

CPU = torch.device("cpu")


@pytest.fixture
def free_memory(monkeypatch):
    def set_free(nbytes: float) -> None:
        monkeypatch.setattr(runtime, "available_memory", lambda device: nbytes)

    return set_free


def test_whole_pass_when_it_fits(free_memory):
    free_memory(64 * 2**30)
    assert choose_tile_size((1024, 768), 16, CPU, None) is None


def test_tiles_when_a_whole_pass_would_not_fit(free_memory):
    free_memory(2 * 3840 * 2160 * PASS_BYTES_PER_PIXEL)
    assert choose_tile_size((3840, 2160), 4, CPU, None) is None
    free_memory(3840 * 2160 * PASS_BYTES_PER_PIXEL)
    assert choose_tile_size((3840, 2160), 4, CPU, None) == 1024
    free_memory(4 * 2**30)
    assert choose_tile_size((3840, 2160), 4, CPU, None) == 768


def test_the_users_tile_size_wins(free_memory):
    free_memory(64 * 2**30)
    assert choose_tile_size((1024, 768), 16, CPU, 256) == 256


def test_too_little_memory_even_for_tiles_is_a_clear_error(free_memory):
    free_memory(2**30)
    with pytest.raises(InputError, match=r"a 8000x6000 picture needs more memory than the 0\.6 GiB"):
        choose_tile_size((8000, 6000), 16, CPU, None)


def test_one_pass_networks_tile_only_where_their_pass_would_not_fit(free_memory):
    pass_bytes = 3840 * 2160 * 600
    free_memory(2 * pass_bytes)  # half the free memory is the share a one-pass network plans with
    assert choose_inference_tile((3840, 2160), CPU, None, 600) is None
    free_memory(pass_bytes)
    assert choose_inference_tile((3840, 2160), CPU, None, 600) == runtime.INFERENCE_TILE
    assert choose_inference_tile((3840, 2160), CPU, 512, 600) == 512
    assert choose_inference_tile((400, 300), CPU, 512, 600) is None  # smaller than the asked tile: whole
