"""Encoders: registered backbones, the embedding head, and their safetensors + JSON storage."""

from lookalike.faces import backbone as _dlib_face  # noqa: F401  (registers "dlib-face")

# Registrations, before any config names a backbone: the ResNets and EfficientNet-Lite0.
from lookalike.models import efficientnet_lite, resnet  # noqa: F401
from lookalike.models.backbones import BackboneSpec, backbone_names, backbone_spec, register_backbone
from lookalike.models.encoder import Encoder, EncoderConfig
from lookalike.models.storage import create_encoder, load_model, model_id, refuse_existing_model, save_model

__all__ = ["BackboneSpec", "Encoder", "EncoderConfig", "backbone_names", "backbone_spec", "create_encoder",
           "load_model", "model_id", "refuse_existing_model", "register_backbone", "save_model"]
