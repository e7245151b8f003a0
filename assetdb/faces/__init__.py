"""Faces and persons: faces grouped by identity, and what users do with them.

- :mod:`.store`: storing the extractor's faces, removing an asset's faces, loading
  embeddings, and the upkeep after a change.
- :mod:`.clustering`: the constrained DBSCAN and incremental assignment over
  embeddings (numpy/FAISS only, no SQL).
- :mod:`.assign`: ``assign_new_faces`` at ingest (Immich's core-point rule: a new
  face with enough close neighbours joins the person of its nearest assigned
  neighbour, or starts a person; other faces wait until they have enough neighbours
  or join as border faces) and ``recluster`` over everything.
- :mod:`.persons`: person and face management (list, name, merge, split, delete,
  move, reject, purge), the ``assets show`` section and the search filter.
- :mod:`.sheets`: contact sheets.

Users' decisions win: faces they assigned (``assignment == "user"``) and every face
of a named or user-made person stay put, rejections ("not this person") are never
undone, and two faces of one frame never end up in one person. Person names are
written as ``texts`` rows with source ``"person"`` on the segments where the person
appears, so free-text search finds them.
"""

from assetdb.faces.assign import AssignStats, ReclusterStats, assign_new_faces, recluster
from assetdb.faces.clustering import (
    EPS,
    EPS_SAME_ASSET,
    MIN_SAMPLES,
    Constraints,
    assign_incremental,
    cluster,
    knn,
    pairwise_scores,
)
from assetdb.faces.persons import (
    FaceInfo,
    PersonInfo,
    asset_details,
    delete_person,
    get_face,
    get_person,
    list_faces,
    list_persons,
    merge_persons,
    move_face,
    name_person,
    purge_faces,
    reject_face,
    segment_ids_for_persons,
    split_person,
)
from assetdb.faces.sheets import contact_sheet
from assetdb.faces.store import TEXT_SOURCE, FaceTable, delete_asset_faces, load_faces, store_faces

__all__ = [
    "EPS",
    "EPS_SAME_ASSET",
    "MIN_SAMPLES",
    "TEXT_SOURCE",
    "AssignStats",
    "Constraints",
    "FaceInfo",
    "FaceTable",
    "PersonInfo",
    "ReclusterStats",
    "asset_details",
    "assign_incremental",
    "assign_new_faces",
    "cluster",
    "contact_sheet",
    "delete_asset_faces",
    "delete_person",
    "get_face",
    "get_person",
    "knn",
    "list_faces",
    "list_persons",
    "load_faces",
    "merge_persons",
    "move_face",
    "name_person",
    "pairwise_scores",
    "purge_faces",
    "recluster",
    "reject_face",
    "segment_ids_for_persons",
    "split_person",
    "store_faces",
]
