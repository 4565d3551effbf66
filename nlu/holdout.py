"""The tuning hold-out: which training examples a full training sets aside to fit its
temperature, fallback threshold and cascade gate on, when no validation data is given.

An example is held out when a hash of its text (normalised: apostrophes, spaces, case) falls
under the hold-out share. The side an example is on depends on its own text alone, so adding
examples never moves an old one between training and hold-out, and the tuning moves only as
much as the new examples themselves move it. A shuffled split (``train_test_split``) redraws
every example whenever one is added: 10 more examples moved the bundled model's threshold
from 0.486 to 0.68 and cost 2-3 points of held-out accuracy to the fallback. Copies of one
text are on the same side, so the hold-out never scores a text the model was fitted on.

Per intent, the share is kept by the hash alone (about ``share`` of each intent's examples,
binomially: 15% of 150 is 22 ± 4). An intent of two or more examples has at least one example
on each side: the lowest-hashed one is held out when none falls under the share, the
highest-hashed one trained on when all do. An intent of one example is only trained on; when
no intent has two, the lowest-hashed example of all is held out (scored as out of scope, an
intent the tuning fit does not know).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from nlu.normalise import normalise_text

__all__ = ["holdout_position", "holdout_split"]


def holdout_position(text: str) -> float:
    """A number in [0, 1) fixed by the text (the same in every process, run and version: not
    Python's salted ``hash``); the example is held out when it is under the share."""
    key = " ".join(normalise_text(text).lower().split())
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def holdout_split(
    texts: Sequence[str], labels: Sequence[str], share: float
) -> tuple[list[int], list[int]]:
    """Indices of the examples to fit on and of the hold-out, each in the data's order."""
    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_intent[label].append(i)
    position = [holdout_position(t) for t in texts]
    held: set[int] = set()
    for members in by_intent.values():
        if len(members) < 2:
            continue
        ranked = sorted(members, key=lambda i: (position[i], i))
        mine = {i for i in members if position[i] < share}
        if not mine:
            mine = {ranked[0]}
        elif len(mine) == len(members):
            mine.discard(ranked[-1])
        held |= mine
    if not held and len(texts) >= 2:
        held = {min(range(len(texts)), key=lambda i: (position[i], i))}
    train = [i for i in range(len(texts)) if i not in held]
    return train, sorted(held)
