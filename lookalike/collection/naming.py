"""Correcting clusters by naming them: the one kind of correction, so none can be undone by a re-run.

Naming a cluster enrols its images under an identity (their vectors and ids stay as they are), so they are found by
`recognize` and are their identity's cluster from then on. The corrections people ask clustering tools for are all
names:
- **merge**: name two clusters alike; the second joins the first's identity;
- **split**: name the cluster leaving out what does not belong (`except_paths`), and name that part apart, or leave
  it to be clustered again;
- **undo**: `remove-identity` forgets the images, `rename-identity` renames the person.
A name is never given to an image that already has another: naming never takes an image from a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lookalike.collection.clusters import saved_cluster
from lookalike.enrolment import identity_name
from lookalike.gallery import GalleryStore


@dataclass(frozen=True)
class Naming:
    identity: str
    named: int  # images enrolled under the identity now
    joined: bool  # the identity had images already: this was a merge
    kept: int  # images of the cluster that already had another name, left as they were
    left_out: int  # images of the cluster left out on request, or no longer in the gallery


def name_cluster(store: GalleryStore, key: str, name: str, *, except_paths: Iterable[str | Path] = ()) -> Naming:
    """Enrol numbered cluster `key` of the last clustering as `name`, but for the images of `except_paths`; commit."""
    identity = identity_name(name)
    ids = saved_cluster(store, key)
    wanted = set(ids)
    excluded = {str(Path(path).resolve()) for path in except_paths}
    chosen = [image for image in store.images() if image.id in wanted and image.path not in excluded]
    unnamed = [image.id for image in chosen if image.identity is None]
    joined = identity in store.identities()
    if unnamed:
        store.set_identity(unnamed, identity)
        store.commit()
    return Naming(identity, named=len(unnamed), joined=joined, kept=len(chosen) - len(unnamed),
                  left_out=len(ids) - len(chosen))
