"""Networks stylegram trains and runs itself (VGG19, the encoder, lives in ``stylegram.features``)."""
