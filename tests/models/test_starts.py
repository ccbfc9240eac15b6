"""Without --model, a new gallery embeds with the best pretrained network available offline, and says so."""

from imagegen import write_image_folder

from lookalike.model import load_model
from lookalike.models import starts


def test_a_new_gallery_without_a_model_embeds_with_the_packaged_imagenet_network(tmp_path, lookalike_main):
    write_image_folder(tmp_path / "photos", classes=2, per_class=2)
    code, out, err = lookalike_main("index", tmp_path / "photos", "--gallery", tmp_path / "g", "--workers", 0)
    assert code == 0, err
    assert ("no --model given: the new gallery embeds with efficientnet-lite0 pretrained on imagenet, its pooled "
            "features as the embedding") in out
    model = load_model(tmp_path / "g" / "model")
    assert (model.config.backbone, model.config.embed_from, model.dim) == ("efficientnet-lite0", "backbone", 1280)
    assert model.encoder.origin["init"] == "imagenet"

    code, out, err = lookalike_main("index", tmp_path / "photos", "--gallery", tmp_path / "g", "--workers", 0)
    assert code == 0 and "no --model" not in out  # the gallery's own copy: no new start to announce


def test_with_no_pretrained_weights_at_hand_the_start_is_random_and_says_so(monkeypatch):
    monkeypatch.setattr(starts, "PREFERENCE", ("resnet18",))
    monkeypatch.setattr("torch.hub.get_dir", lambda: "/nonexistent")
    start = starts.default_start()
    assert (start.config.backbone, start.weights, start.config.embed_from) == ("resnet18", None, "head")
    assert "random weights" in start.describe()
