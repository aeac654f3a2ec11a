"""One training label per face from several labelers' answers (Dawid-Skene from crowd-kit).

Fewer than three labels give a majority its full say, and a tie says nothing:
the face is left out. From three labelers per face on, Dawid-Skene estimates
each labeler's confusion matrix from all their answers together, so a careful
labeler outweighs two careless ones where a plain majority would not.

>>> votes = [("f1", "ann", "male"), ("f1", "bob", "female"), ("f2", "ann", "male"), ("f2", "bob", "male")]
>>> aggregate(votes, labelers_per_face=2)
{'f2': 'male'}
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from maskface.agreement import Vote, by_item, majority

#: From this many labelers per face on, labels are aggregated by Dawid-Skene rather than majority.
DAWID_SKENE_FROM = 3


def dawid_skene(votes: Iterable[Vote], n_iter: int = 100) -> dict[str, str]:
    """Each item's label under Dawid-Skene's estimate of every labeler's reliability."""
    from crowdkit.aggregation import DawidSkene

    frame = votes_frame(votes)
    if frame.empty:
        return {}
    return {str(item): str(label) for item, label in DawidSkene(n_iter=n_iter).fit_predict(frame).items()}


def aggregate(votes: Iterable[Vote], labelers_per_face: int) -> dict[str, str]:
    """The training label of each item: majority below :data:`DAWID_SKENE_FROM` labelers per face, else Dawid-Skene."""
    votes = list(votes)
    return (dawid_skene if labelers_per_face >= DAWID_SKENE_FROM else majority)(votes)


def votes_frame(votes: Iterable[Vote]) -> pd.DataFrame:
    """crowd-kit's table (task, worker, label), one row per labeler and item (their last answer)."""
    rows = [(item, labeler, label) for item, labels in by_item(votes).items() for labeler, label in labels.items()]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])
