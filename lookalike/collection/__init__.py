"""Acting on a whole collection: near-duplicate groups and clusters, built from the gallery's neighbour graph;
naming clusters as identities; laying the embedding out in 2-D for its map."""

from lookalike.collection.clusters import COLOUR_BY, MIN_CLUSTER, Cluster, ClusterReport, find_clusters, groups_of
from lookalike.collection.duplicates import DuplicateGroup, DuplicateReport, find_duplicates
from lookalike.collection.layout import METHODS as LAYOUTS
from lookalike.collection.layout import SAMPLE as MAP_SAMPLE
from lookalike.collection.layout import Layout, lay_out
from lookalike.collection.levels import Levels
from lookalike.collection.naming import Naming, name_cluster
from lookalike.collection.neighbours import Progress

__all__ = ["COLOUR_BY", "LAYOUTS", "MAP_SAMPLE", "MIN_CLUSTER", "Cluster", "ClusterReport", "DuplicateGroup",
           "DuplicateReport", "Layout", "Levels", "Naming", "Progress", "find_clusters", "find_duplicates", "groups_of",
           "lay_out", "name_cluster"]
