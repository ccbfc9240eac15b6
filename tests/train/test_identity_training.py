"""Training by identity (FaceNet): P x K batches, positives that are other images of the same identity, the pair
head's same/different by identity, and the errors and warnings that say what P x K sampling needs."""

from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image
from imagegen import write_image_folder
from torch import nn

import lookalike
from lookalike.errors import LookalikeError
from lookalike.models.pair_head import PairHead
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.objectives.miners import BatchHardMiner
from lookalike.objectives.pair import PairObjective, random_derangement
from lookalike.objectives.triplet import TripletObjective
from lookalike.training import TrainSettings
from lookalike.training.batches import identity_batches, shuffled_batches

SETTINGS = TrainSettings(epochs=1, batch_size=8, workers=0, precision="fp32")


def test_identity_batches_hold_up_to_k_of_an_identity_and_every_image_once():
    identities = torch.tensor([0] * 7 + [1] * 5 + [2] * 3 + [3])
    batches = identity_batches(identities, batch=8, per_identity=3, generator=torch.Generator().manual_seed(0))
    flat = torch.cat(batches)
    assert sorted(flat.tolist()) == list(range(16))  # every image, once
    assert all(len(batch) <= 8 for batch in batches)
    for batch in batches:  # groups of one identity come whole, at most K of them together per group
        assert max(Counter(identities[batch].tolist()).values()) <= 8
    again = identity_batches(identities, batch=8, per_identity=3, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))  # seeded: a resumed epoch repeats it


def test_label_free_batches_are_one_random_order_cut_in_batches():
    generator, reference = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(torch.cat(shuffled_batches(10, 4, generator)), torch.randperm(10, generator=reference))


class _Fixed(nn.Module):
    """An 'encoder' that gives each view a fixed embedding: identity k sits at angle k, its images close together."""

    def __init__(self, embeddings: torch.Tensor) -> None:
        super().__init__()
        self.embeddings = embeddings

    def forward(self, views: torch.Tensor, at=None) -> torch.Tensor:
        return torch.cat([self.embeddings, self.embeddings])[: len(views)]


def test_triplets_take_positives_from_the_same_identity_and_negatives_from_others():
    identities = torch.tensor([0, 0, 1, 1, 2, 2])
    embeddings = torch.nn.functional.normalize(torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    seen = []

    def recording(all_embeddings, ids, generator=None):
        seen.append(ids.clone())
        return BatchHardMiner()(all_embeddings, ids, generator)

    objective = TripletObjective(recording)
    views = torch.zeros(6, 3, 4, 4)
    objective(_Fixed(embeddings), views, views, identities=identities)
    assert seen[0].tolist() == identities.repeat(2).tolist()  # the miner sees identities, not image numbers
    anchor, positive, negative = BatchHardMiner()(torch.cat([embeddings, embeddings]), identities.repeat(2))
    ids = identities.repeat(2)
    assert (ids[anchor] == ids[positive]).all() and (ids[anchor] != ids[negative]).all()
    assert (anchor % 6 != positive % 6).any()  # some positives are another image of the identity


def test_the_pair_head_learns_same_identity_as_same(monkeypatch):
    objective = PairObjective(PairHead(4, "l1"))
    embeddings = torch.nn.functional.normalize(torch.randn(4, 4, generator=torch.Generator().manual_seed(1)), dim=1)
    views = torch.zeros(4, 3, 4, 4)
    targets = []
    original = torch.nn.functional.binary_cross_entropy_with_logits

    def recording(logits, target):
        targets.append(target)
        return original(logits, target)

    monkeypatch.setattr(torch.nn.functional, "binary_cross_entropy_with_logits", recording)
    identities = torch.tensor([0, 0, 1, 1])
    others = random_derangement(4, torch.Generator().manual_seed(0))  # the partners the objective will draw
    objective(_Fixed(embeddings), views, views, generator=torch.Generator().manual_seed(0), identities=identities)
    assert targets[-1].tolist() == [1.0] * 4 + (identities == identities[others]).float().tolist()
    objective(_Fixed(embeddings), views, views, generator=torch.Generator().manual_seed(0))
    assert targets[-1].tolist() == [1.0] * 4 + [0.0] * 4  # label-free: only an image's own two views are the same


def test_a_folder_trains_by_identity_and_resumes(tmp_path):
    people = tmp_path / "people"
    write_image_folder(people, classes=3, per_class=6)
    messages = []
    run = lookalike.train(people, tmp_path / "model", image_size=32, head=(32, 16), labels="folders",
                          settings=SETTINGS, callbacks=lookalike.training.Callbacks(say=messages.append))
    assert any("training by identity: 3 identities" in message for message in messages)
    assert run.report.history[-1].statistics["triplets"] > 0
    resumed = lookalike.resume_training(tmp_path / "model", epochs=2,
                                        callbacks=lookalike.training.Callbacks(say=messages.append))
    assert [row.epoch for row in resumed.report.history] == [1, 2]


def test_what_identity_training_needs_is_said(tmp_path):
    people = tmp_path / "people"
    write_image_folder(people, classes=2, per_class=4)
    with pytest.raises(LookalikeError, match="cannot use identity labels"):
        lookalike.train(people, tmp_path / "a", objective=ObjectiveChoice("simclr"),
                        labels="folders", settings=SETTINGS)
    lone = tmp_path / "lone"
    write_image_folder(lone, classes=1, per_class=4)
    with pytest.raises(LookalikeError, match="only one identity"):
        lookalike.train(lone, tmp_path / "b", labels="folders", settings=SETTINGS)
    (people / "stray.png").write_bytes((people / "class0" / "img1.png").read_bytes())
    with pytest.raises(LookalikeError, match="not in an identity sub-folder"):
        lookalike.train(people, tmp_path / "c", labels="folders", settings=SETTINGS)
    (people / "stray.png").unlink()
    (people / "solo").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
        people / "solo" / "one.png")
    messages = []
    lookalike.train(people, tmp_path / "d", labels="folders", image_size=32, head=(32, 16), valid_fraction=0.25,
                    settings=SETTINGS, callbacks=lookalike.training.Callbacks(say=messages.append))
    assert any("one training image (solo" in message for message in messages)
