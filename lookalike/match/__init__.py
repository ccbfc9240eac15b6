"""Verification and recognition on embeddings: distances, the τ decision with "unknown", and calibrating τ.
Knows nothing of files or storage; lookalike.enrolment and lookalike.verification bring those."""

from lookalike.match.calibration import Calibration, calibrate, choose_threshold, labelled_pairs
from lookalike.match.decide import AGGREGATES, Recognition, accepts, identity_distances, recognise
from lookalike.match.scoring import CosineDistance, Distance, PairHeadDistance, distance_for

__all__ = [
    "AGGREGATES",
    "Calibration",
    "CosineDistance",
    "Distance",
    "PairHeadDistance",
    "Recognition",
    "accepts",
    "calibrate",
    "choose_threshold",
    "distance_for",
    "identity_distances",
    "labelled_pairs",
    "recognise",
]
