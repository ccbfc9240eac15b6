"""Encoders: backbones, the embedding head, and their safetensors + JSON storage."""

from lookalike.models.backbones import BACKBONES, STAGES
from lookalike.models.encoder import Encoder, EncoderConfig
from lookalike.models.storage import create_encoder, load_model, model_id, refuse_existing_model, save_model

__all__ = ["BACKBONES", "STAGES", "Encoder", "EncoderConfig", "create_encoder", "load_model", "model_id",
           "refuse_existing_model", "save_model"]
