import json
import urllib.error

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from lookalike.errors import LookalikeError
from lookalike.models import EncoderConfig, create_encoder, load_model, model_id, save_model
from lookalike.models.resnet import IMAGENET_WEIGHTS

TINY = EncoderConfig(backbone="resnet18", image_size=32, head=(32, 16))


def test_round_trip_gives_the_same_model(tmp_path):
    encoder = create_encoder(TINY, seed=3)
    saved_id = save_model(encoder, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), encoder(x))
    assert loaded.config == TINY
    assert model_id(loaded) == model_id(encoder) == saved_id
    assert loaded.origin == {"init": "random", "seed": 3}


def test_a_model_folder_is_safetensors_and_json_only(tmp_path):
    save_model(create_encoder(TINY), tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["architecture"]["backbone"] == "resnet18"
    assert meta["architecture"]["image_size"] == 32
    assert meta["architecture"]["mean"] == list(TINY.mean)
    assert meta["embedding_dim"] == 16
    assert meta["config_hash"] == TINY.digest()
    assert meta["library_version"]


def test_model_id_follows_the_weights_not_only_the_architecture():
    encoder = create_encoder(TINY, seed=0)
    before = model_id(encoder)
    assert model_id(create_encoder(TINY, seed=1)) != before
    with torch.no_grad():
        encoder.head[-1].bias[0] += 1e-3
    assert model_id(encoder) != before


def test_an_edited_config_is_detected(tmp_path):
    save_model(create_encoder(TINY), tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    meta = json.loads(path.read_text())
    meta["architecture"]["image_size"] = 64
    path.write_text(json.dumps(meta))
    with pytest.raises(LookalikeError, match="does not match its recorded hash"):
        load_model(tmp_path / "m")


def test_replaced_weights_are_detected(tmp_path):
    save_model(create_encoder(TINY, seed=0), tmp_path / "a")
    save_model(create_encoder(TINY, seed=1), tmp_path / "b")
    (tmp_path / "a" / "model.safetensors").write_bytes((tmp_path / "b" / "model.safetensors").read_bytes())
    with pytest.raises(LookalikeError, match="does not match config.json"):
        load_model(tmp_path / "a")


@pytest.mark.parametrize("setup", ["missing", "empty", "garbage_config"])
def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path, setup):
    folder = tmp_path / "m"
    if setup != "missing":
        folder.mkdir()
    if setup == "garbage_config":
        (folder / "config.json").write_text("{not json")
    with pytest.raises(LookalikeError, match=str(folder)):
        load_model(folder)


def test_local_safetensors_weights_load_into_the_backbone(tmp_path):
    reference = torchvision.models.resnet18()
    save_file(reference.state_dict(), tmp_path / "r18.safetensors")
    encoder = create_encoder(TINY, weights=tmp_path / "r18.safetensors")
    torch.testing.assert_close(encoder.backbone.conv1.weight, reference.conv1.weight)
    torch.testing.assert_close(encoder.backbone.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var)
    assert encoder.origin["init"] == "file:r18.safetensors"


def test_weights_for_another_backbone_are_refused(tmp_path):
    save_file(torchvision.models.resnet50().state_dict(), tmp_path / "r50.safetensors")
    with pytest.raises(LookalikeError, match="do not fit this backbone"):
        create_encoder(TINY, weights=tmp_path / "r50.safetensors")


class _Tripwire:
    """Unpickling this object creates a file: proof that something unpickled it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    torch.save({"conv1.weight": _Tripwire(marker)}, tmp_path / "evil.pth")
    with pytest.raises(LookalikeError, match="never unpickles"):
        create_encoder(TINY, weights=tmp_path / "evil.pth")
    assert not marker.exists()


def test_imagenet_weights_offline_give_a_clear_error(monkeypatch):
    weights = type(IMAGENET_WEIGHTS["resnet18"])

    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(weights, "get_state_dict", offline)
    with pytest.raises(LookalikeError, match="could not download ImageNet weights for resnet18.*--weights FILE"):
        create_encoder(TINY, weights="imagenet")


def test_imagenet_weights_load_when_available(monkeypatch):
    reference = torchvision.models.resnet18()
    weights = type(IMAGENET_WEIGHTS["resnet18"])
    monkeypatch.setattr(weights, "get_state_dict", lambda self, *a, **k: reference.state_dict())
    encoder = create_encoder(TINY, weights="imagenet")
    torch.testing.assert_close(encoder.backbone.conv1.weight, reference.conv1.weight)
    assert encoder.origin["init"] == "imagenet"
