import json

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional import adjust_hue

from lookalike.errors import LookalikeError
from lookalike.views import RECIPES, PlainView, SeedView, SimCLRView, _hue, _hue_matrix, recipe_from_dict, recipe_named

ALL = [PlainView(), SeedView(), SimCLRView(blur_p=0.5)]
IDS = [recipe.name for recipe in ALL]


def pixels(n: int = 8, side: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def views(recipe, images, size=12, seed=0):
    return recipe(images, size, torch.Generator().manual_seed(seed))


def stripes(side: int, period: int = 2) -> torch.Tensor:
    """Vertical stripes, one image, float."""
    row = ((torch.arange(side) // (period // 2)) % 2).float()
    return row.expand(1, 3, side, side).clone()


@pytest.mark.parametrize("recipe", ALL, ids=IDS)
@pytest.mark.parametrize("n", [0, 1, 5])
def test_views_are_float_images_of_the_asked_size_on_the_input_device(recipe, n):
    images = pixels(n)
    out = views(recipe, images, size=16)
    assert out.shape == (n, 3, 16, 16)
    assert out.dtype == torch.float32
    assert out.device == images.device
    if n:
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("recipe", ALL, ids=IDS)
def test_uint8_and_float_input_give_the_same_views(recipe):
    images = pixels()
    torch.testing.assert_close(views(recipe, images), views(recipe, images.double() / 255), atol=1e-5, rtol=0)


@pytest.mark.parametrize("recipe", ALL[1:], ids=IDS[1:])
def test_the_generator_seed_decides_the_views(recipe):
    images = pixels()
    torch.testing.assert_close(views(recipe, images, seed=1), views(recipe, images, seed=1))
    assert not torch.allclose(views(recipe, images, seed=1), views(recipe, images, seed=2))


def test_without_a_generator_the_global_random_state_is_used():
    images = pixels()
    torch.manual_seed(5)
    first = SimCLRView()(images, 12)
    torch.manual_seed(5)
    torch.testing.assert_close(SimCLRView()(images, 12), first)


@pytest.mark.parametrize("recipe", ALL[1:], ids=IDS[1:])
def test_each_image_in_a_batch_gets_its_own_parameters(recipe):
    out = views(recipe, pixels(1).expand(6, -1, -1, -1))
    differing = {i for i in range(1, 6) if not torch.allclose(out[0], out[i])}
    assert len(differing) >= 4


def test_plain_view_has_no_randomness():
    images = pixels()
    torch.testing.assert_close(views(PlainView(), images, seed=1), views(PlainView(), images, seed=2))


def test_plain_view_at_half_size_is_a_two_by_two_average():
    images = pixels(side=24).float() / 255
    torch.testing.assert_close(PlainView()(images, 12), F.avg_pool2d(images, 2))


def test_plain_view_at_a_quarter_size_is_a_four_by_four_average():
    images = pixels(side=48).float() / 255
    torch.testing.assert_close(PlainView()(images, 12), F.avg_pool2d(images, 4))


def test_plain_view_does_not_alias_when_shrinking_more_than_twice():
    # Bilinear sampling alone would land on every third stripe and return full-contrast stripes.
    out = PlainView()(stripes(72), 24)
    assert out.std() < 0.05
    torch.testing.assert_close(out.mean(), torch.tensor(0.5), atol=0.02, rtol=0)


def test_plain_view_enlarges_a_small_image():
    out = PlainView()(pixels(side=8), 24)
    assert out.shape == (8, 3, 24, 24)
    torch.testing.assert_close(out.mean(), pixels(side=8).float().mean() / 255, atol=0.02, rtol=0)


def test_seed_view_without_flip_or_contrast_is_the_centre_crop_resized():
    images = pixels(side=48).float() / 255
    centre = images[:, :, 12:36, 12:36]
    recipe = SeedView(flip_p=0, contrast=(1, 1))
    torch.testing.assert_close(views(recipe, images, size=24), centre, atol=1e-5, rtol=0)
    torch.testing.assert_close(views(recipe, images, size=12), F.interpolate(centre, size=12, mode="area"))


def test_seed_view_crops_by_the_given_fraction():
    images = pixels(side=40).float() / 255
    out = views(SeedView(crop_fraction=0.8, flip_p=0, contrast=(1, 1)), images, size=32)
    torch.testing.assert_close(out, images[:, :, 4:36, 4:36], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("never", "always"),
    [(SeedView(flip_p=0), SeedView(flip_p=1)), (SimCLRView(flip_p=0, blur_p=0.5), SimCLRView(flip_p=1, blur_p=0.5))],
    ids=["seed", "simclr"],
)
def test_a_flip_mirrors_the_view_and_changes_nothing_else(never, always):
    images = pixels()
    torch.testing.assert_close(views(always, images), views(never, images).flip(-1), atol=1e-5, rtol=0)


def test_contrast_keeps_the_mean_grey_level_and_scales_the_rest():
    # Values near the middle, so a factor of 1.5 never clips.
    images = 0.4 + 0.2 * pixels().float() / 255
    plain = views(SeedView(flip_p=0, contrast=(1, 1)), images)
    stronger = views(SeedView(flip_p=0, contrast=(1.5, 1.5)), images)
    grey = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    mean = (plain * grey).sum(dim=1, keepdim=True).mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close((stronger * grey).sum(dim=1, keepdim=True).mean(dim=(1, 2, 3), keepdim=True), mean)
    torch.testing.assert_close(stronger - mean, 1.5 * (plain - mean))


def test_contrast_factors_are_drawn_from_the_range():
    images = 0.4 + 0.2 * pixels(32).float() / 255
    plain = views(SeedView(flip_p=0, contrast=(1, 1)), images)
    out = views(SeedView(flip_p=0, contrast=(0.5, 1.2)), images)
    factors = out.std(dim=(1, 2, 3)) / plain.std(dim=(1, 2, 3))
    assert factors.min() >= 0.5 - 1e-4 and factors.max() <= 1.2 + 1e-4
    assert factors.max() - factors.min() > 0.3


def test_greyscale_makes_the_channels_equal():
    out = views(SimCLRView(grey_p=1), pixels())
    torch.testing.assert_close(out[:, 0], out[:, 1])
    torch.testing.assert_close(out[:, 1], out[:, 2])
    assert not torch.allclose(views(SimCLRView(grey_p=0, jitter_p=0), pixels())[:, 0], out[:, 1])


def test_hue_jitter_turns_colours_but_keeps_luma_and_greys():
    hue_only = SimCLRView(jitter_p=1, brightness=0, contrast=0, saturation=0, hue=0.5, grey_p=0, flip_p=0)
    unjittered = SimCLRView(jitter_p=0, grey_p=0, flip_p=0)
    images = 0.35 + 0.3 * pixels().float() / 255  # muted colours, so the turn does not clip
    turned, kept = views(hue_only, images), views(unjittered, images)
    grey = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    torch.testing.assert_close((turned * grey).sum(1), (kept * grey).sum(1), atol=1e-4, rtol=0)
    assert (turned - kept).abs().mean() > 0.02
    flat = torch.full((4, 3, 12, 12), 0.3)
    torch.testing.assert_close(views(hue_only, flat), flat, atol=1e-5, rtol=0)


def test_hue_turns_the_same_way_as_torchvision():
    images = 0.3 + 0.4 * pixels(4).float() / 255
    turned = _hue(images, _hue_matrix(torch.full((4,), 0.25)))
    assert (turned - adjust_hue(images, 0.25)).abs().mean() < 0.5 * (turned - adjust_hue(images, -0.25)).abs().mean()


def test_unselected_images_escape_the_jitter():
    images = pixels(16)
    some = views(SimCLRView(jitter_p=0.5, grey_p=0), images)
    none = views(SimCLRView(jitter_p=0, grey_p=0), images)
    same = [torch.equal(a, b) for a, b in zip(some, none)]
    assert any(same) and not all(same)


def test_blur_removes_fine_detail_from_the_chosen_images_only():
    board = ((torch.arange(24).view(-1, 1) + torch.arange(24)) % 2).float().expand(8, 3, 24, 24)
    whole = dict(scale=(1, 1), ratio=(1, 1), flip_p=0, jitter_p=0, grey_p=0, blur_sigma=(1, 2))
    sharp = views(SimCLRView(**whole), board, size=24)
    torch.testing.assert_close(sharp, board, atol=1e-5, rtol=0)

    def fine_detail(x):
        return (x[..., 1:] - x[..., :-1]).abs().mean(dim=(1, 2, 3))

    assert (fine_detail(views(SimCLRView(**whole, blur_p=1), board, size=24)) < 0.2 * fine_detail(sharp)).all()
    partly = views(SimCLRView(**whole, blur_p=0.5), board, size=24)
    blurred = fine_detail(partly) < 0.2 * fine_detail(sharp)
    assert blurred.any() and not blurred.all()
    torch.testing.assert_close(partly[~blurred], sharp[~blurred])


def test_random_crops_keep_the_asked_share_of_the_image():
    # A horizontal ramp: a view's spread of values tells the share of the width it covers (half: 24 of 48 pixels,
    # whose outermost pixel centres lie 23 pixels apart).
    ramp = torch.linspace(0, 1, 48).expand(16, 3, 48, 48).clone()
    recipe = SimCLRView(scale=(0.25, 0.25), ratio=(1, 1), flip_p=0, jitter_p=0, grey_p=0)
    out = views(recipe, ramp, size=24)
    spread = out[:, 0, 0, -1] - out[:, 0, 0, 0]
    torch.testing.assert_close(spread, torch.full((16,), 23 / 47), atol=0.03, rtol=0)
    assert out[:, 0, 0, 0].std() > 0.05  # the crops sit in different places


def test_recipes_round_trip_through_json():
    for recipe in [PlainView(), SeedView(crop_fraction=0.6, contrast=(0.5, 1.5)), SimCLRView(blur_p=0.5, hue=0.1)]:
        data = json.loads(json.dumps(recipe.to_dict()))
        assert data["name"] == recipe.name
        assert recipe_from_dict(data) == recipe


def test_to_dict_lists_every_setting():
    assert SeedView().to_dict() == {"name": "seed", "crop_fraction": 0.5, "flip_p": 0.5, "contrast": [0.2, 1.8]}
    assert PlainView().to_dict() == {"name": "plain"}


def test_recipes_are_found_by_name():
    assert set(RECIPES) == {"plain", "seed", "simclr"}
    assert recipe_named("seed") == SeedView()
    assert recipe_named("simclr") == SimCLRView()
    with pytest.raises(LookalikeError, match="nope.*plain, seed, simclr"):
        recipe_named("nope")


def test_reading_an_unknown_recipe_or_setting_fails_clearly():
    with pytest.raises(LookalikeError, match="'mixup'"):
        recipe_from_dict({"name": "mixup"})
    with pytest.raises(LookalikeError, match="None"):
        recipe_from_dict({"crop_fraction": 0.5})
    with pytest.raises(LookalikeError, match="crop_size"):
        recipe_from_dict({"name": "seed", "crop_size": 0.5})


def test_jitter_strength_follows_simclr():
    recipe = SimCLRView.with_strength(0.5)
    assert (recipe.brightness, recipe.contrast, recipe.saturation, recipe.hue) == pytest.approx((0.4, 0.4, 0.4, 0.1))
    assert SimCLRView.with_strength(1.0) == SimCLRView()


@pytest.mark.parametrize(
    ("cls", "settings", "field"),
    [
        (SeedView, {"crop_fraction": 0}, "crop_fraction"),
        (SeedView, {"crop_fraction": 1.5}, "crop_fraction"),
        (SeedView, {"flip_p": -0.1}, "flip_p"),
        (SeedView, {"contrast": (1.5, 0.5)}, "contrast"),
        (SeedView, {"contrast": (0, 1)}, "contrast"),
        (SeedView, {"contrast": (0.5,)}, "contrast"),
        (SeedView, {"crop_fraction": "half"}, "crop_fraction"),
        (SimCLRView, {"scale": (0, 1)}, "scale"),
        (SimCLRView, {"scale": (0.5, 1.5)}, "scale"),
        (SimCLRView, {"ratio": (2, 1)}, "ratio"),
        (SimCLRView, {"jitter_p": 1.2}, "jitter_p"),
        (SimCLRView, {"grey_p": float("nan")}, "grey_p"),
        (SimCLRView, {"blur_p": 2}, "blur_p"),
        (SimCLRView, {"brightness": -1}, "brightness"),
        (SimCLRView, {"hue": 0.6}, "hue"),
        (SimCLRView, {"blur_sigma": (2, 1)}, "blur_sigma"),
    ],
)
def test_invalid_settings_are_refused_by_name(cls, settings, field):
    with pytest.raises(LookalikeError, match=field):
        cls(**settings)


def test_bad_batches_and_sizes_are_refused():
    with pytest.raises(LookalikeError, match="B x 3 x H x W"):
        PlainView()(torch.zeros(3, 24, 24), 12)
    with pytest.raises(LookalikeError, match="size"):
        PlainView()(pixels(), 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_seed_gives_the_same_views_on_the_gpu():
    images = pixels()
    for recipe in ALL:
        torch.testing.assert_close(views(recipe, images.cuda()).cpu(), views(recipe, images), atol=1e-4, rtol=0)


def test_each_recipe_says_how_much_source_detail_it_needs():
    assert PlainView().detail_scale == 1.0 and SimCLRView().detail_scale == 1.0
    assert SeedView().detail_scale == 2.0 and SeedView(crop_fraction=0.25).detail_scale == 4.0


def test_the_faces_preset_is_a_milder_simclr_recipe_recorded_as_one():
    faces = recipe_named("faces")
    assert isinstance(faces, SimCLRView) and faces.scale == (0.5, 1.0) and faces.hue == 0.0 and faces.grey_p == 0.0
    assert recipe_from_dict(faces.to_dict()) == faces  # a run that used the preset resumes with the same views
    assert recipe_named("faces") is not recipe_named("faces")


def test_the_short_run_preset_keeps_a_fifth_of_the_image_and_halves_the_jitter():
    short = recipe_named("simclr-short")
    half = SimCLRView.with_strength(0.5)  # SimCLR's own jitter knob, at its CIFAR-10 setting
    assert short == SimCLRView(scale=(0.2, 1.0), brightness=half.brightness, contrast=half.contrast,
                               saturation=half.saturation, hue=half.hue)
    assert recipe_from_dict(short.to_dict()) == short
