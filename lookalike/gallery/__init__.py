"""Galleries of image embeddings: store them once, search them by cosine similarity."""

from lookalike.gallery.embedded import INDEX_KINDS, Gallery
from lookalike.gallery.protocol import GalleryStore
from lookalike.gallery.records import GalleryInfo, Hit, ImageRecord, StoredImage
from lookalike.gallery.registry import StoreKind, register_store, store_kind_for, store_names

from lookalike.gallery.milvus import MilvusGallery  # isort: skip  # registers itself, so after the registry

__all__ = ["INDEX_KINDS", "Gallery", "GalleryInfo", "GalleryStore", "Hit", "ImageRecord", "MilvusGallery", "StoreKind",
           "StoredImage", "register_store", "store_kind_for", "store_names"]
