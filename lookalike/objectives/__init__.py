"""Training objectives: losses that teach the encoder which images are alike from two views of each image."""

from lookalike.objectives.base import Objective, ObjectiveOutput
from lookalike.objectives.distances import pairwise_squared_l2, squared_l2
from lookalike.objectives.miners import MINERS, BatchHardMiner, Miner, RandomMiner, SemiHardMiner, make_miner
from lookalike.objectives.ntxent import DEFAULT_TEMPERATURE, NTXentLoss, NTXentObjective
from lookalike.objectives.pair import PairObjective, random_derangement
from lookalike.objectives.triplet import (
    DEFAULT_MARGIN,
    TripletDistance,
    TripletMarginLoss,
    TripletObjective,
    active_fraction,
)

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_TEMPERATURE",
    "MINERS",
    "BatchHardMiner",
    "Miner",
    "NTXentLoss",
    "NTXentObjective",
    "Objective",
    "ObjectiveOutput",
    "PairObjective",
    "RandomMiner",
    "SemiHardMiner",
    "TripletDistance",
    "TripletMarginLoss",
    "TripletObjective",
    "active_fraction",
    "make_miner",
    "pairwise_squared_l2",
    "random_derangement",
    "squared_l2",
]
