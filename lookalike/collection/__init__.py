"""Acting on a whole collection: near-duplicate groups, built from the gallery's neighbour graph."""

from lookalike.collection.duplicates import DuplicateGroup, DuplicateReport, find_duplicates
from lookalike.collection.levels import Levels

__all__ = ["DuplicateGroup", "DuplicateReport", "Levels", "find_duplicates"]
