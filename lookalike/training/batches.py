"""Which images make up each batch of an epoch.

Label-free, a batch is a run of one random order of the images: each image's positive is its own second view.
With identity labels, batches are P identities x K images (FaceNet's sampling), so that every image has positives
that are other photos of the same person: each identity's images are shuffled and cut into groups of K, the groups
of every identity shuffled together, and the groups packed into batches. An identity with a single image has no
positive; it is packed too, and serves as a negative.
"""

from __future__ import annotations

import torch


def shuffled_batches(count: int, batch: int, generator: torch.Generator) -> list[torch.Tensor]:
    """The images 0..count-1 in a random order, cut into batches of `batch` (the last may be shorter)."""
    order = torch.randperm(count, generator=generator)
    return list(order.split(batch))


def identity_batches(identities: torch.Tensor, batch: int, per_identity: int,
                     generator: torch.Generator) -> list[torch.Tensor]:
    """Batches of up to `batch` images, `per_identity` (K) of each identity at a time; `identities` holds each
    image's identity as an integer from 0."""
    groups: list[torch.Tensor] = []
    by_identity = torch.argsort(identities, stable=True).split(torch.bincount(identities).tolist())
    for members in by_identity:  # each identity's images, in input order
        if len(members):
            members = members[torch.randperm(len(members), generator=generator)]
            groups += list(members.split(per_identity))
    order = torch.randperm(len(groups), generator=generator)
    batches: list[torch.Tensor] = []
    current: list[torch.Tensor] = []
    size = 0
    for position in order.tolist():
        group = groups[position]
        if size + len(group) > batch and current:
            batches.append(torch.cat(current))
            current, size = [], 0
        current.append(group[: batch])
        size += min(len(group), batch)
    if current:
        batches.append(torch.cat(current))
    return batches
