"""Augmentation recipes: how a training loop turns one image into the "views" it compares.

A recipe is data (a frozen dataclass that round-trips through JSON, so a training run can record exactly what it did)
and a function applied to a whole batch at once on the batch's own device, each image with its own random parameters.
Every random number is drawn on the CPU from the caller's generator and only then moved to the device, so one seed
gives the same views on a laptop and on a GPU. A view's parameters travel to a GPU together, in one copy.

Geometry (crop, flip, resize) is one affine resampling per image, all in a single ``grid_sample`` call; colour changes
are tensor arithmetic with per-image factors, and images a random choice left alone are kept by ``torch.where``
rather than by looping over the batch.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from typing import ClassVar, Protocol

import torch
import torch.nn.functional as F

from lookalike.errors import LookalikeError

# ITU-R 601 luma, torchvision's greyscale weights.
_GREY = (0.299, 0.587, 0.114)
# RGB -> YIQ. Hue jitter rotates the chroma plane (I, Q) and keeps luma (Y).
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=torch.float64)
_YIQ_INV = torch.linalg.inv(_YIQ)
# Tries at finding a random crop that fits, as torchvision's RandomResizedCrop makes.
_CROP_TRIES = 10


class ViewRecipe(Protocol):
    """What the trainer needs from a recipe: make views of a batch, and describe itself for the run's record."""

    name: ClassVar[str]

    def __call__(self, images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 (0..255) or float ([0, 1]) images, B x 3 x H x W -> float32 views, B x 3 x size x size, in [0, 1]."""

    def to_dict(self) -> dict:
        """{"name": ..., **fields}, ready for JSON."""

    @property
    def detail_scale(self) -> float:
        """How much larger than the view its source should be stored for the view to keep full detail."""


@dataclass(frozen=True)
class PlainView:
    """The whole image resized to size x size, with no randomness: what inference sees."""

    name: ClassVar[str] = "plain"

    def __call__(self, images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _as_float(images, size)
        if not len(x):
            return _empty(x, size)
        theta = _crop_theta(torch.ones(len(x)), torch.ones(len(x)), torch.zeros(len(x)), torch.zeros(len(x)))
        (theta,) = _to_device(x.device, theta)
        return _resample(x, theta, size, reach=1.0)

    def to_dict(self) -> dict:
        return _to_dict(self)

    @property
    def detail_scale(self) -> float:
        return 1.0


@dataclass(frozen=True)
class SeedView:
    """The seed recipe's positive: a centre crop, a random left-right flip and a random contrast change."""

    name: ClassVar[str] = "seed"

    # The share of each side kept, around the centre.
    crop_fraction: float = 0.5
    flip_p: float = 0.5
    # The contrast factor is uniform in this range; 1 leaves the image as it is.
    contrast: tuple[float, float] = (0.2, 1.8)

    def __post_init__(self) -> None:
        crop_fraction = _number("crop_fraction", self.crop_fraction)
        if not 0 < crop_fraction <= 1:
            raise LookalikeError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
        object.__setattr__(self, "crop_fraction", crop_fraction)
        object.__setattr__(self, "flip_p", _probability("flip_p", self.flip_p))
        object.__setattr__(self, "contrast", _range("contrast", self.contrast, positive=True))

    def __call__(self, images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _as_float(images, size)
        n = len(x)
        flip = _chance(n, self.flip_p, generator)
        factor = _uniform(n, self.contrast, generator)
        if not n:
            return _empty(x, size)
        side = torch.full((n,), self.crop_fraction)
        theta, factor = _to_device(x.device, _crop_theta(side, side, torch.zeros(n), torch.zeros(n), flip), factor)
        # Contrast is changed after resizing: the same operation on fewer pixels, as the mean grey level barely moves.
        return _contrast(_resample(x, theta, size, reach=self.crop_fraction), factor)

    def to_dict(self) -> dict:
        return _to_dict(self)

    @property
    def detail_scale(self) -> float:
        """The centre crop is cut at full resolution from a source 1 / crop_fraction times the view's size."""
        return 1 / self.crop_fraction


@dataclass(frozen=True)
class SimCLRView:
    """SimCLR's recipe (Chen et al., 2020): random resized crop, flip, colour jitter, greyscale and optional blur."""

    name: ClassVar[str] = "simclr"

    # Crop area as a share of the image's area, and the crop's width / height.
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    # Colour jitter, applied to a jitter_p share of the images: brightness, contrast and saturation factors are uniform
    # in [max(0, 1 - v), 1 + v]; the hue shift is uniform in [-hue, hue] turns of the colour wheel.
    jitter_p: float = 0.8
    brightness: float = 0.8
    contrast: float = 0.8
    saturation: float = 0.8
    hue: float = 0.2
    grey_p: float = 0.2
    # Gaussian blur, off by default; sigma in output pixels, the kernel about a tenth of the output size.
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)

    def __post_init__(self) -> None:
        scale = _range("scale", self.scale, positive=True)
        if scale[1] > 1:
            raise LookalikeError(f"scale is a share of the image's area, so at most 1, got {list(scale)}")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "ratio", _range("ratio", self.ratio, positive=True))
        object.__setattr__(self, "blur_sigma", _range("blur_sigma", self.blur_sigma, positive=True))
        for field in ("flip_p", "jitter_p", "grey_p", "blur_p"):
            object.__setattr__(self, field, _probability(field, getattr(self, field)))
        for field in ("brightness", "contrast", "saturation"):
            value = _number(field, getattr(self, field))
            if value < 0:
                raise LookalikeError(f"{field} must not be negative, got {value}")
            object.__setattr__(self, field, value)
        hue = _number("hue", self.hue)
        if not 0 <= hue <= 0.5:
            raise LookalikeError(f"hue must be in [0, 0.5] (a share of the colour wheel), got {hue}")
        object.__setattr__(self, "hue", hue)

    @classmethod
    def with_strength(cls, strength: float) -> SimCLRView:
        """SimCLR's single jitter knob s: brightness = contrast = saturation = 0.8 s, hue = 0.2 s."""
        s = _number("strength", strength)
        return cls(brightness=0.8 * s, contrast=0.8 * s, saturation=0.8 * s, hue=0.2 * s)

    def __call__(self, images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        x = _as_float(images, size)
        n = len(x)
        # Everything is drawn, in a fixed order, whatever the probabilities: changing one setting then leaves the
        # other draws as they were.
        width, height = _random_crop(n, images.shape[-2] / images.shape[-1], self.scale, self.ratio, generator)
        centre_x = (2 * torch.rand(n, generator=generator) - 1) * (1 - width)
        centre_y = (2 * torch.rand(n, generator=generator) - 1) * (1 - height)
        flip = _chance(n, self.flip_p, generator)
        jitter = _chance(n, self.jitter_p, generator)
        brightness = _uniform(n, (max(0.0, 1 - self.brightness), 1 + self.brightness), generator)
        contrast = _uniform(n, (max(0.0, 1 - self.contrast), 1 + self.contrast), generator)
        saturation = _uniform(n, (max(0.0, 1 - self.saturation), 1 + self.saturation), generator)
        hue = _uniform(n, (-self.hue, self.hue), generator)
        grey = _chance(n, self.grey_p, generator)
        blur = _chance(n, self.blur_p, generator)
        sigma = _uniform(n, self.blur_sigma, generator)
        if not n:
            return _empty(x, size)

        blurring = self.blur_p > 0  # off by default: then no kernel is built or copied
        theta, brightness, contrast, saturation, rotation, jitter, grey, *blurs = _to_device(
            x.device, _crop_theta(width, height, centre_x, centre_y, flip), brightness, contrast, saturation,
            _hue_matrix(hue), jitter, grey, *((_blur_kernel(sigma, size), blur) if blurring else ()))
        x = _resample(x, theta, size, reach=1.0)
        if self.jitter_p > 0:
            # A fixed order (brightness, contrast, saturation, hue) where torchvision shuffles it per call.
            jittered = _brightness(x, brightness)
            jittered = _contrast(jittered, contrast)
            jittered = _saturation(jittered, saturation)
            jittered = _hue(jittered, rotation)
            x = torch.where(_per_image(jitter), jittered, x)
        if self.grey_p > 0:
            x = torch.where(_per_image(grey), _grey(x).expand_as(x), x)
        if blurring:
            kernel, blur = blurs
            x = torch.where(_per_image(blur), _blur(x, kernel), x)
        return x

    def to_dict(self) -> dict:
        return _to_dict(self)

    @property
    def detail_scale(self) -> float:
        """Crops are enlarged from a source at the view's size, as in SimCLR's own CIFAR-10 and STL-10 runs; this
        keeps a cache of STL-10's 100,000 unlabeled images within memory."""
        return 1.0


RECIPES: dict[str, type[ViewRecipe]] = {}
"""Each recipe class by its name, filled by `register_recipe`; a run records its views by these names."""

PRESETS: dict[str, Callable[[], ViewRecipe]] = {}
"""Named recipes with settings of their own, filled by `register_preset`; a run records them as the recipe they are
made of, so a preset can change without changing what an old run meant."""


def register_recipe(cls: type[ViewRecipe]) -> type[ViewRecipe]:
    """Make a view recipe (a frozen dataclass with a `name` and `ViewRecipe`'s methods) choosable by its name."""
    _check_new_name(cls.name)
    RECIPES[cls.name] = cls
    return cls


def register_preset(name: str, make: Callable[[], ViewRecipe]) -> None:
    """Make a recipe with settings of its own choosable as `--views name`."""
    _check_new_name(name)
    PRESETS[name] = make


def _check_new_name(name: str) -> None:
    if name in RECIPES or name in PRESETS:
        raise ValueError(f"a view recipe named {name!r} is registered already")


for _recipe in (PlainView, SeedView, SimCLRView):
    register_recipe(_recipe)

# Aligned faces: identity lives in the geometry of the whole face and survives lighting, so views keep most of the
# face (a crop of half its area or more, near-square) and change brightness and contrast, not colour.
register_preset("faces", lambda: SimCLRView(scale=(0.5, 1.0), ratio=(0.9, 1.1), brightness=0.4, contrast=0.4,
                                            saturation=0.0, hue=0.0, grey_p=0.0))

# Short runs on small images: SimCLR's crops go down to 8 % of the image and its colour jitter to strength 1, a task
# hundreds of epochs are meant to learn. With crops of a fifth of the image or more and half the jitter (the strength
# SimCLR used for CIFAR-10), ten CPU-minutes on CIFAR-10 learned more (BENCHMARKS.md, the recipe search).
register_preset("simclr-short", lambda: SimCLRView(scale=(0.2, 1.0), brightness=0.4, contrast=0.4, saturation=0.4,
                                                   hue=0.1))

# Drawings made of strokes (handwritten digits, glyphs, sketches): a mirror image, or a small corner, of one is often
# another symbol, so views keep the drawing's orientation and most of it, and change only brightness and contrast.
# On the demo's handwritten digits, SimCLR with these views beat the untrained encoder in 1.5 minutes, where the
# seed's mirrored half crops lost to it (README, the demo).
register_preset("strokes", lambda: SimCLRView(scale=(0.6, 1.0), ratio=(0.8, 1.25), flip_p=0.0, brightness=0.4,
                                              contrast=0.4, saturation=0.0, hue=0.0, grey_p=0.0))


def recipe_named(name: str) -> ViewRecipe:
    """A preset, or a recipe with its default settings."""
    if name in PRESETS:
        return PRESETS[name]()
    if name not in RECIPES:
        raise LookalikeError(f"unknown view recipe {name!r}; choose one of {', '.join([*RECIPES, *PRESETS])}")
    return RECIPES[name]()


def recipe_from_dict(data: dict) -> ViewRecipe:
    """The inverse of ``to_dict``, for reading a recipe back from a run's record."""
    settings = dict(data)
    name = settings.pop("name", None)
    if name not in RECIPES:
        raise LookalikeError(f"unknown view recipe {name!r}; choose one of {', '.join(RECIPES)}")
    cls = RECIPES[name]
    unknown = set(settings) - set(inspect.signature(cls).parameters)
    if unknown:
        raise LookalikeError(f"unknown settings for the {name!r} view recipe: {', '.join(sorted(unknown))}")
    return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in settings.items()})


def _to_dict(recipe: ViewRecipe) -> dict:
    if not is_dataclass(recipe):
        raise TypeError(f"a view recipe is a dataclass, not {type(recipe).__name__}")
    values = {field.name: getattr(recipe, field.name) for field in fields(recipe)}
    return {"name": recipe.name, **{key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}}


def _number(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LookalikeError(f"{field} must be a finite number, got {value!r}")
    return float(value)


def _probability(field: str, value: object) -> float:
    p = _number(field, value)
    if not 0 <= p <= 1:
        raise LookalikeError(f"{field} is a probability, so in [0, 1], got {p}")
    return p


def _range(field: str, value: object, positive: bool) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise LookalikeError(f"{field} must be a (low, high) pair, got {value!r}")
    low, high = (_number(field, v) for v in value)
    if low > high:
        raise LookalikeError(f"{field} must be ordered low <= high, got {list(value)}")
    if positive and low <= 0:
        raise LookalikeError(f"{field} must be positive, got {list(value)}")
    return low, high


def _as_float(images: torch.Tensor, size: int) -> torch.Tensor:
    """Checks the batch and the size, and brings pixels to float32 in [0, 1]."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise LookalikeError(f"views need a B x 3 x H x W batch, got shape {tuple(images.shape)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise LookalikeError(f"view size must be a positive whole number of pixels, got {size!r}")
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    return images.float()


def _empty(x: torch.Tensor, size: int) -> torch.Tensor:
    """An empty batch of views (affine_grid refuses a batch of none)."""
    return x.new_empty((0, 3, size, size))


def _uniform(n: int, bounds: tuple[float, float], generator: torch.Generator | None) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * torch.rand(n, generator=generator)


def _chance(n: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


def _per_image(mask: torch.Tensor) -> torch.Tensor:
    """A per-image choice shaped to broadcast over B x 3 x H x W."""
    return mask.view(-1, 1, 1, 1)


def _to_device(device: torch.device, *params: torch.Tensor) -> list[torch.Tensor]:
    """Per-image parameters drawn on the CPU -> the same tensors on `device`, in one copy.

    Every copy to a GPU is a round trip that waits for the GPU, so a view's parameters travel together: on an H100
    host seven small copies took 271 µs and one took 19 µs. Floats travel as float32 and booleans come back exact."""
    if device.type == "cpu":
        return list(params)
    packed = torch.cat([param.reshape(-1).float() for param in params]).to(device)
    return [part.view(param.shape).to(torch.bool if param.dtype == torch.bool else torch.float32)
            for part, param in zip(packed.split([param.numel() for param in params]), params)]


def _random_crop(
    n: int, aspect: float, scale: tuple[float, float], ratio: tuple[float, float], generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop width and height as shares of the image's sides (aspect is the image's height / width).

    Like torchvision, area and log-ratio are drawn up to ten times and the first crop that fits is kept; an image with
    no fitting draw is kept whole (torchvision would take a centre crop clamped to the ratio range).
    """
    area = _uniform(n * _CROP_TRIES, scale, generator).view(n, _CROP_TRIES)
    log_ratio = _uniform(n * _CROP_TRIES, (math.log(ratio[0]), math.log(ratio[1])), generator)
    crop_ratio = log_ratio.exp().view(n, _CROP_TRIES)
    width = (area * crop_ratio * aspect).sqrt()
    height = (area / (crop_ratio * aspect)).sqrt()
    fits = (width <= 1) & (height <= 1)
    first = fits.int().argmax(dim=1, keepdim=True)  # the first fitting try; 0 if none fits
    found = fits.any(dim=1)
    one = torch.ones(n)
    return (
        torch.where(found, width.gather(1, first).squeeze(1), one),
        torch.where(found, height.gather(1, first).squeeze(1), one),
    )


def _crop_theta(
    width: torch.Tensor,
    height: torch.Tensor,
    centre_x: torch.Tensor,
    centre_y: torch.Tensor,
    flip: torch.Tensor | None = None,
) -> torch.Tensor:
    """One affine_grid matrix per image for a crop given by its size (share of each side) and centre (in [-1, 1]).

    A negative x scale mirrors the crop about its own centre, which is a left-right flip of the view.
    """
    theta = torch.zeros(len(width), 2, 3)
    theta[:, 0, 0] = width if flip is None else torch.where(flip, -width, width)
    theta[:, 0, 2] = centre_x
    theta[:, 1, 1] = height
    theta[:, 1, 2] = centre_y
    return theta


def _resample(x: torch.Tensor, theta: torch.Tensor, size: int, reach: float) -> torch.Tensor:
    """Crops, flips and resizes every image in one grid_sample call.

    Bilinear sampling reads 2 x 2 pixels per output pixel, so it averages properly down to half size (at exactly half
    it is a 2 x 2 box average) and aliases beyond. ``reach`` is the largest share of a side a crop can span; where such
    a crop would be more than twice the output size, the batch is first area-averaged down so that it is not.
    """
    limit = math.ceil(2 * size / reach)
    height, width = x.shape[-2:]
    if height > limit or width > limit:
        x = F.interpolate(x, size=(min(height, limit), min(width, limit)), mode="area")
    grid = F.affine_grid(theta, [len(x), 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _grey(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel luma, B x 1 x H x W."""
    weights = torch.tensor(_GREY, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """other + factor (x - other), clamped: torchvision's definition of brightness, contrast and saturation."""
    return torch.lerp(other.expand_as(x), x, factor.view(-1, 1, 1, 1)).clamp_(0, 1)


def _brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """A blend with black, which is a plain scaling."""
    return (x * factor.view(-1, 1, 1, 1)).clamp_(0, 1)


def _contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return _blend(x, _grey(x).mean(dim=(1, 2, 3), keepdim=True), factor)


def _saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return _blend(x, _grey(x), factor)


def _hue_matrix(shift: torch.Tensor) -> torch.Tensor:
    """The RGB -> RGB matrix (n x 3 x 3, float32) turning each image's hues by its shift, a share of the colour wheel.

    torchvision goes through HSV; a rotation of the YIQ chroma plane is a close, cheap stand-in: one 3 x 3 matrix per
    image, applied with a single batched matmul. The angle is negated because hue (red -> yellow -> green) runs
    clockwise in the I-Q plane.
    """
    angle = -2 * math.pi * shift.double()
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.zeros(len(shift), 3, 3, dtype=torch.float64)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
    rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
    return (_YIQ_INV @ rotation @ _YIQ).float()


def _hue(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    return torch.bmm(matrix, x.flatten(2)).view_as(x).clamp_(0, 1)


def _blur_kernel(sigma: torch.Tensor, size: int) -> torch.Tensor:
    """Each image's 1-D Gaussian (n x taps) for views of `size` pixels: about a tenth of the view (odd, at least 3
    taps), SimCLR's choice."""
    taps = max(3, int(0.1 * size) // 2 * 2 + 1)
    offsets = torch.arange(taps, dtype=torch.float32) - taps // 2
    kernel = torch.exp(-0.5 * (offsets / sigma.view(-1, 1)) ** 2)
    return kernel / kernel.sum(dim=1, keepdim=True)


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """A separable Gaussian blur with each image's own kernel, as one grouped convolution per axis; edges are
    replicated."""
    n, channels, height, width = x.shape
    taps = kernel.shape[1]
    kernel = kernel.repeat_interleave(channels, dim=0)
    planes = F.pad(x.reshape(1, n * channels, height, width), [taps // 2] * 4, mode="replicate")
    planes = F.conv2d(planes, kernel.view(n * channels, 1, 1, taps), groups=n * channels)
    planes = F.conv2d(planes, kernel.view(n * channels, 1, taps, 1), groups=n * channels)
    return planes.view_as(x)
