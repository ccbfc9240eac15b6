"""One-shot identity with dlib's face pipeline through lookalike (issue #18), against dlib called directly.

Every person of FOLDER (one sub-folder each) is enrolled with one photo, their first file, and each of their other
photos is recognised: top-1 is the share of photos whose largest face is named correctly, taking the closest
identity whatever its distance (a photo in which no face is found counts as wrong). The same is computed with dlib
called directly (HOG detector, 5-point landmarks, ResNet descriptor, nearest enrolled descriptor by Euclidean
distance, as face_recognition does), and the time per photo of both is measured in the same run; then each step
alone: finding and aligning faces, and encoding them, in faces per second.

    .venv/bin/python bench/faces_one_shot.py ../shared/data/lfw_deepfunneled_subset [--record]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import record
import torch
from PIL import Image

import lookalike
from lookalike.data import find_images, label_for
from lookalike.embed import EmbedSettings
from lookalike.faces.dlib_files import FACE_ENCODER, LANDMARKS_5, dlib, model_file
from lookalike.preprocess import NothingFound, stage_named


def people(folder: Path) -> dict[str, list[Path]]:
    by_person: dict[str, list[Path]] = {}
    for path in find_images(folder):
        by_person.setdefault(str(label_for(path, folder.resolve())), []).append(path)
    return {name: files for name, files in sorted(by_person.items()) if len(files) >= 2}


def through_lookalike(by_person: dict[str, list[Path]], scratch: Path) -> tuple[float, float, int]:
    """(top-1, seconds per recognised photo, photos with no face found)."""
    enrol = scratch / "people"
    enrol.mkdir()
    for name, files in by_person.items():
        (enrol / f"{name}{files[0].suffix}").symlink_to(files[0])
    settings = EmbedSettings(workers=0)
    with lookalike.open(scratch / "g", lookalike.create_model(lookalike.EncoderConfig.for_backbone("dlib-face"),
                                                              settings=settings), settings=settings) as session:
        session.enrol_folder(enrol)
        queries = [path for files in by_person.values() for path in files[1:]]
        started = time.perf_counter()
        report = session.recognise_all(queries, threshold=2.0, main_region_only=True)
        seconds = time.perf_counter() - started
    right = sum(result.closest == Path(str(name).split("#")[0]).parent.name for name, result in report.results)
    return right / len(queries), seconds / len(queries), len(report.skipped)


def through_dlib(by_person: dict[str, list[Path]]) -> tuple[float, float]:
    """(top-1, seconds per recognised photo) with dlib alone."""
    detector = dlib().get_frontal_face_detector()
    landmarks = dlib().shape_predictor(str(model_file(LANDMARKS_5)))
    encoder = dlib().face_recognition_model_v1(str(model_file(FACE_ENCODER)))

    def descriptor(path: Path) -> np.ndarray | None:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        faces = sorted(detector(pixels, 1), key=lambda box: -box.width() * box.height())
        if not faces:
            return None
        return np.asarray(encoder.compute_face_descriptor(pixels, landmarks(pixels, faces[0])))

    names = list(by_person)
    known = [descriptor(files[0]) for files in by_person.values()]
    enrolled = np.stack([vector if vector is not None else np.full(128, np.inf) for vector in known])
    queries = [(name, path) for name, files in by_person.items() for path in files[1:]]
    started = time.perf_counter()
    right = 0
    for name, path in queries:
        vector = descriptor(path)
        if vector is not None:
            right += names[int(np.argmin(np.linalg.norm(enrolled - vector, axis=1)))] == name
    return right / len(queries), (time.perf_counter() - started) / len(queries)


def stage_rates(paths: list[Path]) -> tuple[float, float, float, float]:
    """Faces per second for finding and aligning faces, and for encoding them, through lookalike (its faces stage,
    then its dlib-face model on batches of chips) and through dlib alone (detector and landmarks, then the
    descriptor of each face), on the same decoded photos."""
    photos = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    faces_stage = stage_named("faces")
    started = time.perf_counter()
    chips: list[np.ndarray] = []
    for photo in photos:
        try:
            chips += [np.array(region.image) for region in faces_stage.regions(Image.fromarray(photo), 150)]
        except NothingFound:
            pass
    ours_finding = len(chips) / (time.perf_counter() - started)
    embedder = lookalike.create_model(lookalike.EncoderConfig.for_backbone("dlib-face"),
                                      settings=EmbedSettings(workers=0)).embedder
    pixels = torch.from_numpy(np.stack(chips).transpose(0, 3, 1, 2).copy())
    started = time.perf_counter()
    for start in range(0, len(pixels), 64):
        embedder.embed_pixels(pixels[start:start + 64])
    ours_encoding = len(chips) / (time.perf_counter() - started)

    detector = dlib().get_frontal_face_detector()
    landmarks = dlib().shape_predictor(str(model_file(LANDMARKS_5)))
    encoder = dlib().face_recognition_model_v1(str(model_file(FACE_ENCODER)))
    started = time.perf_counter()
    found = [(photo, landmarks(photo, box)) for photo in photos for box in detector(photo, 1)]
    dlib_finding = len(found) / (time.perf_counter() - started)
    started = time.perf_counter()
    for photo, shape in found:
        encoder.compute_face_descriptor(photo, shape)
    dlib_encoding = len(found) / (time.perf_counter() - started)
    return ours_finding, ours_encoding, dlib_finding, dlib_encoding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    record.add_record_options(parser)
    args = parser.parse_args()
    by_person = people(args.folder)
    with tempfile.TemporaryDirectory() as scratch:
        ours, ours_seconds, no_face = through_lookalike(by_person, Path(scratch))
    theirs, theirs_seconds = through_dlib(by_person)
    queries = sum(len(files) - 1 for files in by_person.values())
    ours_finding, ours_encoding, dlib_finding, dlib_encoding = stage_rates(
        [path for files in by_person.values() for path in files])
    lines = [
        f"{len(by_person)} people of {args.folder.name}, one photo each enrolled, their other {queries} photos "
        f"recognised by the largest face ({no_face} with no face found by HOG count as wrong); one process, "
        "decoding included",
        "",
        "| pipeline | one-shot top-1 | ms per photo | ratio |",
        "|---|---|---|---|",
        f"| dlib called directly (HOG, 5 landmarks, ResNet, nearest descriptor) | {theirs:.3f} | "
        f"{theirs_seconds * 1000:.1f} | 1.00 |",
        f"| lookalike: create-model --backbone dlib-face, enrol, recognise --largest-face | {ours:.3f} | "
        f"{ours_seconds * 1000:.1f} | {ours_seconds / theirs_seconds:.2f}× the time |",
        "",
        "Each step alone, on the same decoded photos (faces per second):",
        "",
        "| step | dlib called directly | lookalike | ratio |",
        "|---|---|---|---|",
        f"| find and align (HOG, 5 landmarks) | {dlib_finding:.1f} | {ours_finding:.1f} (faces stage, chips) | "
        f"{ours_finding / dlib_finding:.2f}× |",
        f"| encode (ResNet, 128-d) | {dlib_encoding:.1f} (one face at a time) | {ours_encoding:.1f} (batches of 64 "
        f"chips) | {ours_encoding / dlib_encoding:.2f}× |",
    ]
    record.publish("Faces: one-shot with dlib's pipeline (issue #18)", lines, args)


if __name__ == "__main__":
    main()
