"""lookalike: learn what makes unlabeled images alike, then search, verify and recognise with it.

The whole Python API is here::

    import lookalike

    with lookalike.open("gallery") as session:       # a gallery and its model (made by the first index)
        session.index("photos/")
        best = session.search(numpy_image, k=5)[0]   # .image.path, .score
    model = lookalike.load_model("model/")
    vectors = model.embed(["a.jpg", pil_image])      # (N, D) float32, unit rows

Python names spell enrol and recognise the British way; the command line keeps `enroll` and `recognize`.
"""

__version__ = "0.1.0"

from pathlib import Path  # noqa: E402  (the version is set first: the modules below read it)

from lookalike.embed import EmbedSettings  # noqa: E402
from lookalike.errors import LookalikeError  # noqa: E402
from lookalike.evaluate import evaluate  # noqa: E402
from lookalike.images import Encoded  # noqa: E402
from lookalike.migration import copy_gallery  # noqa: E402
from lookalike.model import Model, create_model, load_model  # noqa: E402
from lookalike.models import EncoderConfig  # noqa: E402
from lookalike.session import Session  # noqa: E402
from lookalike.training.folder import resume_training  # noqa: E402
from lookalike.training.folder import train_folder as train  # noqa: E402
from lookalike.whiten import whiten_model as whiten  # noqa: E402
from lookalike.workspace import ModelLike  # noqa: E402


def open(gallery: str | Path, model: ModelLike = None, *, settings: EmbedSettings = EmbedSettings()) -> Session:
    """Open the gallery at `gallery` with its model (or `model`, which must be the one that built it). A gallery that
    does not exist yet is created by the first `Session.index` or `Session.enrol`, with `model` or the default start
    (lookalike.models.starts: the best pretrained network available offline)."""
    return Session(gallery, model, settings=settings)


__all__ = ["EmbedSettings", "Encoded", "EncoderConfig", "LookalikeError", "Model", "Session", "__version__",
           "copy_gallery", "create_model", "evaluate", "load_model", "open", "resume_training", "train", "whiten"]
