import numpy as np
import pytest
from imagegen import write_truncated_jpeg

import lookalike
from lookalike.data import find_images
from lookalike.embed import EmbedSettings, Embedder
from lookalike.errors import LookalikeError
from lookalike.models import load_model

IN_PROCESS = EmbedSettings(workers=0)  # small folders: worker start-up would cost more than it saves


@pytest.fixture
def gallery(image_folder, tiny_model, tmp_path):
    with lookalike.open(tmp_path / "g", tiny_model) as session:
        session.index(image_folder)
    return tmp_path / "g"


def search_images(queries, gallery, **options):
    with lookalike.open(gallery) as session:
        return session.search_all(queries, **options)


def test_an_indexed_image_finds_itself_first(image_folder, gallery):
    query = image_folder / "class1" / "img2.jpg"
    [result] = search_images([query], gallery, k=3).results
    assert result.hits[0].image.path == str(query.resolve())
    assert result.hits[0].score >= 0.99
    assert [hit.score for hit in result.hits] == sorted((hit.score for hit in result.hits), reverse=True)


def test_top_k_equals_brute_force_cosine(image_folder, tiny_model, gallery):
    paths = find_images(image_folder)
    vectors = Embedder(load_model(tiny_model), IN_PROCESS).embed_paths(paths).vectors
    report = search_images([image_folder], gallery, k=5)
    assert [r.query for r in report.results] == paths
    similarity = vectors @ vectors.T
    for row, result in zip(similarity, report.results):
        expected = np.argsort(-row, kind="stable")[:5]
        got = [hit.image.path for hit in result.hits]
        assert got == [str(paths[i]) for i in expected]
        np.testing.assert_allclose([hit.score for hit in result.hits], row[expected], atol=1e-5)


def test_exclude_self_drops_the_query_and_still_returns_k(image_folder, gallery):
    query = (image_folder / "class0" / "img0.jpg").resolve()
    [result] = search_images([query], gallery, k=4, exclude_self=True).results
    assert len(result.hits) == 4
    assert str(query) not in [hit.image.path for hit in result.hits]


def test_k_larger_than_the_gallery_returns_every_image(image_folder, gallery):
    [result] = search_images([image_folder / "class0" / "img0.jpg"], gallery, k=50).results
    assert len(result.hits) == 12


def test_an_unreadable_query_is_skipped_and_the_rest_answered(image_folder, gallery, tmp_path):
    bad = tmp_path / "bad.jpg"
    write_truncated_jpeg(bad)
    report = search_images([bad, image_folder / "class2" / "img3.png"], gallery, k=2)
    assert [r.query.name for r in report.results] == ["img3.png"]
    assert [b.path.name for b in report.skipped] == ["bad.jpg"]


def test_searching_a_missing_gallery_is_a_clear_error(image_folder, tmp_path):
    with pytest.raises(LookalikeError, match="no gallery at"):
        search_images([image_folder], tmp_path / "nowhere")


def test_images_held_in_memory_find_the_file_they_were_read_from(image_folder, gallery):
    from PIL import Image

    query = (image_folder / "class1" / "img2.jpg").resolve()
    with lookalike.open(gallery, settings=IN_PROCESS) as session:
        for image in (np.asarray(Image.open(query).convert("RGB")), Image.open(query), query.read_bytes()):
            best = session.search(image, k=1)[0]
            assert best.image.path == str(query) and best.score >= 0.999
        with pytest.raises(ValueError, match="one query"):
            session.search(image_folder)
