"""Whitening a saved model on a folder: a new model with its own id, the original untouched, refits from scratch."""

import json

import numpy as np
import pytest
import torch
from imagegen import write_truncated_jpeg
from typer.testing import CliRunner

from lookalike.cli import app
from lookalike.data import find_images, iter_decoded_batches
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import LookalikeError
from lookalike.evaluate import evaluate
from lookalike.models import load_model, model_id
from lookalike.models.whitening import fit_whitening
from lookalike.whiten import whiten_model

SETTINGS = EmbedSettings(workers=0, precision="fp32")


def _pixels(folder):
    return torch.cat([batch.pixels for batch in iter_decoded_batches(find_images(folder), 32, workers=0)])


def test_the_whitened_model_embeds_as_its_fitted_whitening_says(image_folder, tiny_model, tmp_path):
    before = (tiny_model / "model.safetensors").read_bytes()
    report = whiten_model(tiny_model, image_folder, tmp_path / "white", settings=SETTINGS)
    assert (report.images, report.dims) == (12, 11)  # 12 images span 11 directions of the 16-d head
    assert (tiny_model / "model.safetensors").read_bytes() == before
    original, whitened = load_model(tiny_model), load_model(tmp_path / "white")
    assert report.model_id == model_id(whitened) != model_id(original)
    assert whitened.config.embedding_dim == 11 and whitened.origin["whitening"]["images"] == 12

    pixels = _pixels(image_folder)
    plain = torch.from_numpy(Embedder(original, SETTINGS).embed_pixels(pixels))
    mean, projection = fit_whitening(plain)
    expected = torch.nn.functional.normalize((plain - mean) @ projection, dim=1).numpy()
    got = Embedder(whitened, SETTINGS).embed_pixels(pixels)
    # Whitening scales small directions up, so the fp32 rounding of the network's output is magnified.
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert np.abs(got.mean(axis=0)).max() < np.abs(plain.numpy().mean(axis=0)).max()  # centred


def test_whitening_a_whitened_model_refits_from_its_unwhitened_embedding(image_folder, tiny_model, tmp_path):
    once = whiten_model(tiny_model, image_folder, tmp_path / "once", settings=SETTINGS)
    twice = whiten_model(tmp_path / "once", image_folder, tmp_path / "twice", settings=SETTINGS)
    assert twice.model_id == once.model_id
    assert "whitening" in load_model(tmp_path / "twice").origin


def test_bad_images_are_skipped_and_an_existing_model_is_never_overwritten(image_folder, tiny_model, tmp_path):
    write_truncated_jpeg(image_folder / "class0" / "truncated.jpg")
    report = whiten_model(tiny_model, image_folder, tmp_path / "white", settings=SETTINGS, dims=4)
    assert report.images == 12 and report.dims == 4 and [b.path.name for b in report.skipped] == ["truncated.jpg"]
    with pytest.raises(LookalikeError, match="already holds a model"):
        whiten_model(tiny_model, image_folder, tmp_path / "white", settings=SETTINGS)
    assert load_model(tmp_path / "white").config.whiten == 4


def test_evaluate_reads_a_raw_layer_of_a_whitened_model_when_asked(image_folder, tiny_model, tmp_path):
    whiten_model(tiny_model, image_folder, tmp_path / "white", settings=SETTINGS)
    test = tmp_path / "test"
    for path in find_images(image_folder):
        if path.stem.endswith(("2", "3")):
            (test / path.parent.name).mkdir(parents=True, exist_ok=True)
            path.rename(test / path.parent.name / path.name)
    whitened = evaluate(tmp_path / "white", image_folder, test, k=2, settings=SETTINGS, cache_dir=None)
    raw = evaluate(tmp_path / "white", image_folder, test, layer="head", k=2, settings=SETTINGS, cache_dir=None)
    original = evaluate(tiny_model, image_folder, test, k=2, settings=SETTINGS, cache_dir=None)
    assert whitened.layer == "head, whitened" and raw.layer == "head"
    assert raw.knn_top1 == original.knn_top1 and raw.retrieval == original.retrieval


def test_the_cli_whitens_and_says_what_it_wrote(image_folder, tiny_model, tmp_path):
    result = CliRunner().invoke(app, ["whiten", str(tiny_model), str(image_folder), "--out", str(tmp_path / "w"),
                                      "--shrinkage", "0.1", "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "whitened to 11 dimensions on 12 images" in result.output
    meta = json.loads((tmp_path / "w" / "config.json").read_text())
    assert meta["architecture"]["whiten"] == 11 and meta["origin"]["whitening"]["shrinkage"] == 0.1
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["whiten", str(tiny_model), str(empty), "--out", str(tmp_path / "w2")])
    # main() prints LookalikeErrors as one line; in the runner the error itself is what comes back.
    assert "no image files found" in str(result.exception) and not (tmp_path / "w2").exists()
