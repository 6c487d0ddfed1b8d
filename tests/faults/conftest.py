"""What the fault tests share: the API tests' service fixtures, a tiny fast-style network and a long tiny clip."""

import pytest
import torch
from clips import write_clip
from server.conftest import app, client  # noqa: F401 (the API tests' fixtures, used here too)
from server.test_app import photo, settings  # noqa: F401

from stylegram.models.store import save_style_model
from stylegram.models.transformer import TransformerNet


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    return save_style_model(TransformerNet((8, 16), 1), tmp_path_factory.mktemp("model") / "tiny.safetensors", {})


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory):
    """Long enough (96 frames) to be stopped in the middle."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=96)
