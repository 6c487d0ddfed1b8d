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
