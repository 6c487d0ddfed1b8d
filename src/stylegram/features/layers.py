"""The VGG19 layers the perceptual terms read by default, with their weights (optimisation, training and
evaluation all start from these)."""

#: Gatys et al.'s content layer: deep enough to let the strokes change, shallow enough to keep the photo's shapes.
DEFAULT_CONTENT_LAYERS = {"relu4_2": 1.0}
#: relu5_1 weighs less: with relative errors every layer starts near 1, and the deepest Gram matrix fights the
#: content term hardest; at 0.3 three bench pairs kept more of the photo *and* matched the painting better
#: (mean style distance over all five layers) in the same steps, see docs/speed.md.
DEFAULT_STYLE_LAYERS = {"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 0.3}
#: The content layer of the feed-forward networks' training: relu4_2 alone (the optimisation's choice) let the
#: network trade the photo's structure for the style; its pictures of The Scream lost the houses entirely. See
#: docs/fast.md for the comparison.
NETWORK_CONTENT_LAYERS = {"relu2_2": 1.0}
