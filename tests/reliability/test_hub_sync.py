"""Hub sync: labelling never waits for the Hub, an outage leaves labels pending, and they arrive once it is back.

The Hub cannot be reached from here: the outage is a real ``HfApi`` pointed at a
closed local port, and "the Hub is back" routes that object's repo, commit
and squash calls to a local folder (``hub_mirror``), so everything above
those three calls - the CommitScheduler, our push, the state file - is real.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
import pytest

from maskface.labels import METADATA, LabelStore, new_labeler_id
from maskface.sync import HubSync

REPO = "org/maskface-labels"


def crop(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


@pytest.fixture()
def manual_sync(monkeypatch):
    """Call to make HubSyncs created afterwards connect and push only on push_now(), not in the background."""
    return lambda: monkeypatch.setattr(HubSync, "attach", lambda self, store: setattr(self, "_store", store))


def hub_down(*args, **kwargs):
    raise ConnectionError("the Hub went away")


@pytest.fixture()
def open_store(tmp_path, monkeypatch):
    """Open a store on one folder with a HubSync using ``api``; every store is closed at the end.

    (It depends on ``monkeypatch`` so the stores close before a patched Hub is unpatched.)
    """
    stores: list[LabelStore] = []

    def open_(api, **timing) -> LabelStore:
        stores.append(LabelStore(tmp_path / "labels", sync=HubSync(REPO, api=api, **timing)))
        return stores[-1]

    yield open_
    for store in stores:
        store.close()


def test_during_an_outage_labelling_works_and_the_app_says_sync_is_pending(open_store, offline_api):
    store = open_store(offline_api, retry_seconds=0.05)
    me = new_labeler_id()
    ids = [store.add(crop(i), "mask", "with_mask", labeler_id=me, consent=True) for i in range(3)]
    assert [r["id"] for r in store.records()] == ids
    with pytest.raises(Exception, match="Connection refused"):
        store.sync.push_now()
    assert store.sync_status().startswith(
        f"3 labels waiting to sync to {REPO}: the last attempt failed (ConnectError: [Errno 111] Connection refused)"
    )


def test_labels_pending_before_a_restart_are_synced_when_the_hub_is_back(
    open_store, offline_api, hub_mirror, monkeypatch
):
    me = new_labeler_id()
    before = open_store(offline_api, retry_seconds=0.05)
    ids = [before.add(crop(i), "gender", "female", labeler_id=me, consent=True) for i in range(2)]
    before.close()  # the app stops (or dies) with two labels never pushed

    after = open_store(offline_api, retry_seconds=0.05, every_minutes=0.002)
    ids.append(after.add(crop(9), "gender", "male", labeler_id=me, consent=True))
    wait_for(lambda: "the last attempt failed" in after.sync_status())
    assert after.sync_status().startswith("3 labels waiting")

    hub_mirror.bring_back(offline_api, monkeypatch)  # the background thread connects and pushes by itself
    wait_for(lambda: after.sync_status().startswith(f"synced to {REPO} at "))
    assert hub_mirror.repos == [(REPO, "dataset", True)]  # created private
    assert hub_mirror.files() == {METADATA, *(f"crops/{i}.png" for i in ids)}
    assert (hub_mirror.folder / METADATA).read_bytes() == (after.folder / METADATA).read_bytes()

    commits = len(hub_mirror.commits)
    again = open_store(offline_api)  # a restart with nothing new: nothing is uploaded again
    again.sync.push_now()
    assert len(hub_mirror.commits) == commits and again.sync_status().startswith("synced to")


def test_deleted_contributions_are_deleted_from_the_repo_and_its_history(open_store, offline_api, hub_mirror, monkeypatch):
    hub_mirror.bring_back(offline_api, monkeypatch)
    store = open_store(offline_api)
    ada, bob = new_labeler_id(), new_labeler_id()
    for i in range(3):
        store.add(crop(i), "mask", "with_mask", labeler_id=ada, consent=True, labeler_name="Ada")
    kept = store.add(crop(7), "mask", "without_mask", labeler_id=bob, consent=True, labeler_name="Bob")
    store.sync.push_now()
    assert len(hub_mirror.files()) == 5 and hub_mirror.squashes == 0

    assert store.delete_contributions(labeler_name="Ada") == 3  # starts a push at once
    store.sync.push_now()
    assert hub_mirror.files() == {METADATA, f"crops/{kept}.png"}
    assert b"Ada" not in (hub_mirror.folder / METADATA).read_bytes()
    assert hub_mirror.squashes == 1  # no earlier commit keeps the deleted crops


def test_a_failed_squash_is_retried_at_the_next_push(open_store, offline_api, hub_mirror, monkeypatch):
    hub_mirror.bring_back(offline_api, monkeypatch)
    store = open_store(offline_api)
    me = new_labeler_id()
    store.add(crop(1), "mask", "with_mask", labeler_id=me, consent=True)
    store.sync.push_now()

    monkeypatch.setattr(offline_api, "super_squash_history", hub_down)
    store.delete_contributions(labeler_id=me)
    with pytest.raises(ConnectionError):
        store.sync.push_now()
    assert hub_mirror.files() == {METADATA}  # the deletion itself went through
    monkeypatch.setattr(offline_api, "super_squash_history", hub_mirror.super_squash_history)
    store.sync.push_now()
    assert hub_mirror.squashes == 1


def test_a_fresh_folder_merges_the_repos_labels_before_its_first_push(tmp_path, offline_api, hub_mirror, monkeypatch):
    """A Space restarts on an empty disk: its first push must add to the repo, not replace its metadata."""
    hub_mirror.bring_back(offline_api, monkeypatch)
    me = new_labeler_id()
    first = LabelStore(tmp_path / "first-run", sync=HubSync(REPO, api=offline_api))
    old = [first.add(crop(i), "mask", "with_mask", labeler_id=me, consent=True) for i in range(3)]
    first.sync.push_now()
    first.close()

    second = LabelStore(tmp_path / "second-run", sync=HubSync(REPO, api=offline_api))
    try:
        new = second.add(crop(9), "mask", "without_mask", labeler_id=me, consent=True)
        second.sync.push_now()
        ids = [r["id"] for r in second.records()]
        assert sorted(ids) == sorted([*old, new]) and second.count(me) == 4
        assert hub_mirror.files() == {METADATA, *(f"crops/{i}.png" for i in ids)}
        remote = [json.loads(line)["id"] for line in (hub_mirror.folder / METADATA).read_text().splitlines()]
        assert sorted(remote) == sorted(ids)
        assert second.sync_status().startswith("synced to")
    finally:
        second.close()


def test_contributions_deleted_before_the_pull_stay_deleted(
    tmp_path, offline_api, hub_mirror, monkeypatch, manual_sync
):
    hub_mirror.bring_back(offline_api, monkeypatch)
    ada, bob = new_labeler_id(), new_labeler_id()
    first = LabelStore(tmp_path / "first-run", sync=HubSync(REPO, api=offline_api))
    first.add(crop(1), "mask", "with_mask", labeler_id=ada, consent=True, labeler_name="Ada")
    kept = first.add(crop(2), "mask", "with_mask", labeler_id=bob, consent=True)
    first.sync.push_now()
    first.close()

    manual_sync()  # no pull yet
    second = LabelStore(tmp_path / "second-run", sync=HubSync(REPO, api=offline_api))
    assert second.delete_contributions(labeler_name="Ada") == 0  # her label is only in the repo so far
    second.sync.push_now()
    try:
        assert [r["id"] for r in second.records()] == [kept]
        assert hub_mirror.files() == {METADATA, f"crops/{kept}.png"} and hub_mirror.squashes == 1
    finally:
        second.close()


def test_malformed_records_in_the_repo_are_not_merged(open_store, tmp_path, offline_api, hub_mirror, monkeypatch):
    """The repo is not trusted with paths: a record whose file_name leaves crops/ is skipped."""
    hub_mirror.bring_back(offline_api, monkeypatch)
    (tmp_path / "secret.png").write_bytes(b"not for the dataset")
    evil = {"file_name": "../../secret.png", "id": "0" * 32, "task": "mask", "label": "with_mask", "usable": True,
            "labeler_id": "a" * 32, "labeler_name": None, "consent": True, "created_at": "2024-01-01T00:00:00Z",
            "predicted_label": None, "predicted_score": None, "crop_sha256": "0" * 64}
    (hub_mirror.folder / METADATA).write_text(json.dumps(evil) + "\n")
    store = open_store(offline_api)
    store.sync.push_now()
    assert store.records() == [] and list((store.folder / "crops").iterdir()) == []


def test_status_counts_deletions_waiting(open_store, offline_api, hub_mirror, monkeypatch):
    hub_mirror.bring_back(offline_api, monkeypatch)
    store = open_store(offline_api)
    me = new_labeler_id()
    for i in range(2):
        store.add(crop(i), "mask", "with_mask", labeler_id=me, consent=True)
    store.sync.push_now()
    monkeypatch.setattr(offline_api, "create_commit", hub_down)
    store.delete_contributions(labeler_id=me)
    store.add(crop(5), "mask", "without_mask", labeler_id=new_labeler_id(), consent=True)
    wait_for(lambda: "last attempt failed" in store.sync_status())
    assert store.sync_status().startswith(f"1 label and 2 deletions waiting to sync to {REPO}: the last attempt failed")


def test_status_of_an_empty_store(open_store, offline_api, hub_mirror, monkeypatch, manual_sync):
    hub_mirror.bring_back(offline_api, monkeypatch)
    manual_sync()
    store = open_store(offline_api)
    assert store.sync_status() == f"nothing to sync yet ({REPO})"
    store.sync.push_now()
    assert store.sync_status().startswith(f"synced to {REPO} at ")
    assert hub_mirror.downloads == 1 and hub_mirror.commits == []  # pulled, and nothing to push


def test_stopping_the_app_pushes_the_pending_labels_first(tmp_path, offline_api, hub_mirror, monkeypatch, manual_sync):
    """SIGTERM (a Space stopping) closes the store with a flush: labels given since the last push reach the repo."""
    hub_mirror.bring_back(offline_api, monkeypatch)
    manual_sync()  # no background push: only the flush can send them
    store = LabelStore(tmp_path / "labels", sync=HubSync(REPO, api=offline_api, every_minutes=60))
    ids = [store.add(crop(i), "mask", "with_mask", labeler_id=new_labeler_id(), consent=True) for i in range(2)]
    store.close(flush_seconds=30)
    assert hub_mirror.files() == {METADATA, *(f"crops/{i}.png" for i in ids)}


def test_stopping_during_an_outage_keeps_the_labels_pending_and_does_not_hang(tmp_path, offline_api, manual_sync):
    manual_sync()
    store = LabelStore(tmp_path / "labels", sync=HubSync(REPO, api=offline_api))
    store.add(crop(1), "mask", "with_mask", labeler_id=new_labeler_id(), consent=True)
    started = time.monotonic()
    store.close(flush_seconds=5)
    assert time.monotonic() - started < 6
    assert store.sync_status().startswith("1 label waiting to sync")  # pushed after the next start
