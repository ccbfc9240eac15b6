"""dlib's pretrained face encoder as the "dlib-face" backbone: a ResNet that maps an aligned 150 x 150 face chip to a
128-d descriptor, trained by Davis King on about 3 million faces (99.38 % on LFW's pair protocol, by its author).

It runs in dlib, not torch, so it sits in the encoder as a module that hands its batch to dlib and takes the
descriptors back: it has no gradients (it is never trained here) and nothing for torch.fx to fold. Its weights stay in
dlib's file; the model records that file's SHA-256 as a buffer, so the model id changes if the file does, and a model
whose file is not the one installed is refused by name rather than giving other vectors silently.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch
from torch import nn

from lookalike.errors import LookalikeError
from lookalike.faces.dlib_files import DLIB_LOCK, FACE_ENCODER, dlib, file_sha256, model_file
from lookalike.models.backbones import BackboneSpec, register_backbone

CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128


@cache
def _network() -> Any:
    return dlib().face_recognition_model_v1(str(model_file(FACE_ENCODER)))


def _digest_tensor(hex_digest: str) -> torch.Tensor:
    return torch.tensor(list(bytes.fromhex(hex_digest)), dtype=torch.uint8)


class DlibFaceEncoder(nn.Module):
    """Face chips, as floats in [0, 1] (the normalisation of this backbone is the identity), to dlib's descriptors."""

    weights_sha256: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weights_sha256", _digest_tensor(file_sha256(FACE_ENCODER)))

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        installed = file_sha256(FACE_ENCODER)
        if bytes(self.weights_sha256.tolist()).hex() != installed:
            raise LookalikeError(f"this model was made with another {FACE_ENCODER} than the one installed at "
                                 f"{model_file(FACE_ENCODER)}; its vectors would not match its gallery")
        pixels = (chips.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        with DLIB_LOCK:
            descriptors = _network().compute_face_descriptor([np.ascontiguousarray(chip) for chip in pixels])
        vectors = np.asarray([np.asarray(descriptor) for descriptor in descriptors], dtype=np.float32)
        return torch.from_numpy(vectors.reshape(len(pixels), DESCRIPTOR_SIZE)).to(chips.device)


register_backbone(BackboneSpec(
    name="dlib-face", build=DlibFaceEncoder, feature_dim=DESCRIPTOR_SIZE, stages={}, image_size=CHIP_SIZE,
    mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), preprocess="faces", embed_from="backbone", trainable=False,
    built_trained="dlib", foldable=False,
))
