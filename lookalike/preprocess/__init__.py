"""What happens to a decoded image before the encoder sees it: a registered stage, named in the model's config."""

from lookalike.faces import stage as _faces  # noqa: F401  (registers "faces" and "faces-cnn")
from lookalike.preprocess import centre_crop  # noqa: F401  (registers the default stage)
from lookalike.preprocess.registry import (
    DEFAULT_STAGE,
    WHOLE_IMAGE,
    NothingFound,
    Region,
    Stage,
    register_stage,
    stage_named,
    stage_names,
)

__all__ = ["DEFAULT_STAGE", "WHOLE_IMAGE", "NothingFound", "Region", "Stage", "register_stage", "stage_named",
           "stage_names"]
