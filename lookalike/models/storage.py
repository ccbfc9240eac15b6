"""Creating, saving and loading encoders. A model is a folder: model.safetensors + config.json, never a pickle.

config.json records the architecture, how the weights came to be, the library version, a hash of the architecture
settings and a hash of the weights file. Together the two hashes give the model id, which a gallery records so that
vectors from different models are never mixed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from lookalike import __version__
from lookalike.atomic import write_bytes_atomic, write_json_atomic
from lookalike.errors import LookalikeError
from lookalike.json_file import read_json_object
from lookalike.models.backbones import backbone_spec, load_backbone_weights, starting_weights
from lookalike.models.encoder import Encoder, EncoderConfig
from lookalike.vouched import load_vouched, serialise

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1
_PREFIX = "encoder."  # room for more modules (pair head, projection) in the same file later


def _weights(encoder: Encoder) -> tuple[bytes, str]:
    return serialise({_PREFIX + key: value for key, value in encoder.state_dict().items()})


def create_encoder(config: EncoderConfig, *, weights: str | Path | None = None, seed: int = 0) -> Encoder:
    """A new encoder. `weights`: None (random init from `seed`), a source the backbone publishes ("imagenet"), or
    a safetensors file holding a state dict for the backbone. The head always starts from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = Encoder(config)
    if weights is None:
        encoder.origin = {"init": backbone_spec(config.backbone).built_trained or "random", "seed": seed}
    else:
        state, source = starting_weights(config.backbone, weights)
        load_backbone_weights(config.backbone, encoder.backbone, state, source)
        published = str(weights) in backbone_spec(config.backbone).published
        encoder.origin = {"init": str(weights) if published else f"file:{Path(weights).name}", "seed": seed}
    return encoder.eval()


def _model_id(config_hash: str, weights_sha256: str) -> str:
    return hashlib.sha256(f"{config_hash}:{weights_sha256}".encode()).hexdigest()[:16]


def model_id(encoder: Encoder) -> str:
    """The id of the encoder as it is now: changes whenever its architecture or any weight changes."""
    return _model_id(encoder.config.digest(), _weights(encoder)[1])


def refuse_existing_model(folder: str | Path) -> None:
    """Raise `LookalikeError` if `folder` already holds a model: commands that make a new model never replace one
    (a trained model's weights would be gone, its checkpoint and log left describing something else)."""
    folder = Path(folder)
    if (folder / CONFIG_FILE).exists() or (folder / WEIGHTS_FILE).exists():
        raise LookalikeError(f"{folder} already holds a model; choose another folder (nothing was overwritten)")


def save_model(encoder: Encoder, folder: str | Path) -> str:
    """Write the encoder to `folder` atomically (weights first, then the config that vouches for them).
    Returns the model id."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LookalikeError(f"cannot save a model to {folder}: it is a file, not a folder")
    data, weights_sha256 = _weights(encoder)
    config_hash = encoder.config.digest()
    write_bytes_atomic(folder / WEIGHTS_FILE, data)
    write_json_atomic(
        folder / CONFIG_FILE,
        {
            "format": FORMAT_VERSION,
            "library": "lookalike",
            "library_version": __version__,
            "architecture": encoder.config.to_dict(),
            "embedding_dim": encoder.config.embedding_dim,
            "origin": encoder.origin,
            "config_hash": config_hash,
            "weights_sha256": weights_sha256,
            "model_id": _model_id(config_hash, weights_sha256),
        },
    )
    return _model_id(config_hash, weights_sha256)


def _read_config(folder: Path) -> dict:
    path = folder / CONFIG_FILE
    meta = read_json_object(path, missing=f"{folder}: not a lookalike model folder (no {CONFIG_FILE})",
                            what="model config")
    if meta.get("library") != "lookalike":
        raise LookalikeError(f"{path}: not a lookalike model config")
    if meta.get("format") != FORMAT_VERSION:
        raise LookalikeError(f"{path}: model format {meta.get('format')!r} is not supported "
                             f"(expected {FORMAT_VERSION})")
    return meta


def load_model(folder: str | Path) -> Encoder:
    """Load and verify a model folder: the config must match its hash and the weights file must match the config."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LookalikeError(f"model folder not found: {folder}")
    meta = _read_config(folder)
    try:
        config = EncoderConfig.from_dict(meta["architecture"])
    except (KeyError, TypeError, ValueError, LookalikeError) as err:
        raise LookalikeError(f"{folder / CONFIG_FILE}: malformed architecture ({err})") from None
    if config.digest() != meta.get("config_hash"):
        raise LookalikeError(f"{folder / CONFIG_FILE}: the architecture does not match its recorded hash (edited?)")
    tensors = load_vouched(folder / WEIGHTS_FILE, meta.get("weights_sha256"), folder / CONFIG_FILE)
    encoder = Encoder(config)
    state = {key[len(_PREFIX) :]: value for key, value in tensors.items() if key.startswith(_PREFIX)}
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise LookalikeError(f"{folder}: weights do not fit the recorded architecture ({err})") from None
    encoder.origin = meta.get("origin", {})
    return encoder.eval()
