"""How far labelers agree, per task: the figures of the Progress view and ``maskface labels progress``.

With several labelers per face (``MASKFACE_LABELERS_PER_FACE``), a face is one
*item*: the crop's digest, the same for everyone offered that queue item. Only
items labelled by two or more people say anything about agreement; a face
labelled once counts for the totals alone.

- *percent agreement*: the share of agreeing pairs among the labels of each
  item, averaged over items (Fleiss' observed agreement, P-bar);
- *Fleiss' kappa* (statsmodels): that agreement corrected for chance, over the
  items labelled by the most common number of labelers (kappa assumes the same
  number of ratings per item);
- per labeler: the share of their pairs with other labelers that agree.

>>> votes = [("face1", "ann", "male"), ("face1", "bob", "male"), ("face1", "cy", "female"),
...          ("face2", "ann", "female"), ("face2", "bob", "female"), ("face2", "cy", "female")]
>>> result = agreement(votes)
>>> round(result.percent, 3), result.disagreements
(0.667, ['face1'])
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

#: One label: (item, labeler, label).
Vote = tuple[str, str, str]


@dataclass(frozen=True)
class Agreement:
    """Agreement among the labels of one task (``None`` where fewer than two people labelled a face)."""

    labels: int
    items: int
    shared_items: int
    percent: float | None
    fleiss_kappa: float | None
    per_labeler: dict[str, float | None] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "items": self.items,
            "items_with_several_labels": self.shared_items,
            "percent_agreement": self.percent,
            "fleiss_kappa": self.fleiss_kappa,
            "per_labeler_agreement": self.per_labeler,
            "disagreements": self.disagreements,
        }


def by_item(votes: Iterable[Vote]) -> dict[str, dict[str, str]]:
    """Each item's labels by labeler; a labeler's later label of the same item replaces the earlier one."""
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for item, labeler, label in votes:
        table[item][labeler] = label
    return dict(table)


def majority(votes: Iterable[Vote]) -> dict[str, str]:
    """Each item's most frequent label among its labelers; items whose top labels tie are left out."""
    agreed = {}
    for item, labels in by_item(votes).items():
        (label, n), *rest = Counter(labels.values()).most_common(2)
        if not rest or rest[0][1] < n:
            agreed[item] = label
    return agreed


def agreement(votes: Iterable[Vote]) -> Agreement:
    """Percent agreement, Fleiss' kappa, per-labeler agreement and the disputed items of ``votes``."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    items = by_item(votes)
    shared = {item: labels for item, labels in items.items() if len(labels) >= 2}
    categories = sorted({label for labels in items.values() for label in labels.values()})
    pairs: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # labeler -> [agreeing, all] pairs
    observed = []
    for labels in shared.values():
        counts = Counter(labels.values())
        n = len(labels)
        observed.append(sum(c * (c - 1) for c in counts.values()) / (n * (n - 1)))
        for labeler, label in labels.items():
            pairs[labeler][0] += counts[label] - 1
            pairs[labeler][1] += n - 1
    kappa = None
    if shared:
        raters = Counter(len(labels) for labels in shared.values()).most_common(1)[0][0]
        table = np.array(
            [[Counter(labels.values())[c] for c in categories] for labels in shared.values() if len(labels) == raters]
        )
        if len(categories) > 1:
            value = float(fleiss_kappa(table, method="fleiss"))
            kappa = None if np.isnan(value) else value
    labelers = sorted({labeler for labels in items.values() for labeler in labels})
    return Agreement(
        labels=sum(len(labels) for labels in items.values()),
        items=len(items),
        shared_items=len(shared),
        percent=float(np.mean(observed)) if observed else None,
        fleiss_kappa=kappa,
        per_labeler={w: (pairs[w][0] / pairs[w][1] if pairs[w][1] else None) for w in labelers},
        disagreements=sorted(item for item, labels in shared.items() if len(set(labels.values())) > 1),
    )
