import torch

from stylegram.ops.gram import gram_matrix


def test_gram_matches_hand_computation():
    # Two channels over a 1x2 map: F = [[1, 2], [3, 4]] → F Fᵀ = [[5, 11], [11, 25]], C·H·W = 4.
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    assert torch.equal(gram_matrix(features, normalize=False), torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]))
    assert torch.allclose(gram_matrix(features), torch.tensor([[[1.25, 2.75], [2.75, 6.25]]]))


def test_gram_is_symmetric_batched_and_float32():
    features = torch.randn(3, 4, 5, 6, dtype=torch.bfloat16)
    gram = gram_matrix(features)
    assert gram.shape == (3, 4, 4)
    assert gram.dtype == torch.float32
    assert torch.allclose(gram, gram.transpose(1, 2))


def test_normalised_gram_does_not_depend_on_image_size():
    tile = torch.randn(1, 8, 4, 4)
    assert torch.allclose(gram_matrix(tile), gram_matrix(tile.repeat(1, 1, 3, 2)), atol=1e-6)


def test_gram_gradient_matches_autograd_of_the_plain_product():
    features = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f: gram_matrix(f), (features,))
    weights = torch.randn(2, 3, 3, dtype=torch.float64)
    (gram_matrix(features) * weights).sum().backward()
    flat = features.detach().reshape(2, 3, 20).requires_grad_(True)
    ((flat @ flat.transpose(1, 2)) / 60 * weights).sum().backward()
    torch.testing.assert_close(features.grad.reshape(2, 3, 20), flat.grad)


def test_channels_last_features_give_the_same_gram_and_a_gradient_in_their_own_layout():
    features = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    plain = features.clone().requires_grad_(True)
    channels_last = features.clone().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    weights = torch.randn(2, 8, 8, dtype=torch.float64)
    (gram_matrix(plain) * weights).sum().backward()
    (gram_matrix(channels_last) * weights).sum().backward()
    torch.testing.assert_close(gram_matrix(channels_last), gram_matrix(plain))
    torch.testing.assert_close(channels_last.grad, plain.grad)
    assert channels_last.grad.is_contiguous(memory_format=torch.channels_last)


def test_bf16_features_give_a_float32_gram_close_to_the_exact_one():
    features = torch.rand(1, 16, 12, 12)
    exact = gram_matrix(features)
    rounded = gram_matrix(features.bfloat16())
    assert rounded.dtype == torch.float32
    assert float((rounded - exact).abs().max() / exact.abs().max()) < 0.02
