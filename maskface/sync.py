"""Sync a label folder with a Hub dataset repo in the background, without ever holding labelling up.

huggingface_hub's :class:`~huggingface_hub.CommitScheduler` runs the pushes
(a thread, every ``every_minutes``, one commit at a time, a last push at
exit). What it does not do is added here:

* It is built lazily, in a background thread that retries every
  ``retry_seconds``: its constructor calls ``create_repo``, which fails while
  the Hub is unreachable, and the app must start and label all the same.
* Its own push keeps what it uploaded in memory, overwrites remote files and
  never deletes any. Ours compares the store's
  :meth:`~maskface.labels.LabelStore.snapshot` with ``.sync-state.json``
  (the crops and metadata the repo holds, written after each successful
  commit), so labels that were waiting when the app stopped are pushed after
  a restart, the app can say how many are pending, and crops whose labels
  were deleted are deleted from the repo too - after which the repo's
  history is squashed, so no older commit still holds them.
* A folder without that state (a new Space, whose disk is wiped at each
  restart) first pulls the repo and merges its labels, so its first push
  never replaces the repo's ``metadata.jsonl`` with only the new labels.
  Contributions deleted before that pull are left out of the merge and
  deleted from the repo.

One app process syncs a repo: two writers would overwrite each other's
``metadata.jsonl``. The repo is created private. Every Hub call goes through
one ``HfApi`` (its endpoint follows ``HF_ENDPOINT``); tests hand in one
pointed at a closed local port for an outage, or routed to a local folder.

>>> import tempfile
>>> from huggingface_hub import HfApi
>>> closed = HfApi(endpoint="http://127.0.0.1:9", token="hf_example")   # a Hub that cannot be reached
>>> store = LabelStore(tempfile.mkdtemp(), sync=HubSync("org/maskface-labels", api=closed, retry_seconds=3600))
>>> store.sync_status()
'nothing to sync yet (org/maskface-labels)'
>>> store.close()

:func:`label_store` opens the store the settings describe (the app's, the CLI's).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, CommitScheduler, HfApi

from .config import Settings, settings
from .labels import METADATA, LabelStore, is_stored_record

log = logging.getLogger(__name__)

STATE = ".sync-state.json"
PULL = ".hub-pull"


def label_store(config: Settings | None = None) -> LabelStore:
    """The label store of ``config`` (default: the process's settings).

    The folder ``labels_dir``; with ``labels_repo`` and ``hf_token`` both set,
    it is synced to that private dataset every ``sync_minutes``. A repo
    without a token stays local, and the store says why.
    """
    config = config or settings()
    if config.labels_sync:
        repo, token = config.labels_sync
        return LabelStore(config.labels_dir, HubSync(repo, token=token, every_minutes=config.sync_minutes))
    reason = "MASKFACE_LABELS_REPO is set but HF_TOKEN is not" if config.labels_repo else None
    if reason:
        log.warning("labels stay in %s: %s", config.labels_dir, reason)
    return LabelStore(config.labels_dir, local_reason=reason)


class HubSync:
    """Background sync of one :class:`~maskface.labels.LabelStore` with the dataset repo ``repo_id``."""

    def __init__(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        every_minutes: float = 5.0,
        retry_seconds: float = 60.0,
        api: HfApi | None = None,
    ) -> None:
        self.repo_id = repo_id
        self.every_minutes = every_minutes
        self.retry_seconds = retry_seconds
        self.api = api or HfApi(token=token, library_name="maskface")
        self._store: LabelStore | None = None
        self._scheduler: _Scheduler | None = None
        self._connecting = threading.Lock()
        self._stopped = threading.Event()
        self._error: str | None = None
        self._forgotten: list[Callable[[dict], bool]] = []

    def attach(self, store: LabelStore) -> None:
        """Start syncing ``store`` (called by the store): connect in the background, then push on schedule."""
        self._store = store
        threading.Thread(target=self._connect_until_done, name="maskface-hub-connect", daemon=True).start()

    def push_now(self) -> None:
        """Connect if needed, push what is pending and wait; raises what the Hub raised (for tests and scripts)."""
        self._connect()
        self._scheduler.trigger().result()

    def forget(self, deleted: Callable[[dict], bool]) -> None:
        """Records matching ``deleted`` were deleted: keep them out of a pull still to come, and push soon."""
        self._forgotten.append(deleted)
        if self._scheduler is not None:
            self._scheduler.trigger()

    def pending(self) -> tuple[int, int]:
        """(labels, deletions) not yet in the Hub repo, as far as this folder knows."""
        _, files = self._store.snapshot()
        synced = set(self._read_state()["files"])
        return len(set(files) - synced), len(synced - set(files))

    def status(self) -> str:
        """One line for users: synced, or what waits to sync and why."""
        added, deleted = self.pending()
        if not added and not deleted:
            synced_at = self._read_state()["synced_at"]
            return f"synced to {self.repo_id} at {synced_at}" if synced_at else f"nothing to sync yet ({self.repo_id})"
        waiting = [f"{added} label{'s' * (added != 1)}"] if added else []
        waiting += [f"{deleted} deletion{'s' * (deleted != 1)}"] if deleted else []
        reason = self._error or (
            "connecting to the Hub" if self._scheduler is None else f"next push within {self.every_minutes:g} min"
        )
        return f"{' and '.join(waiting)} waiting to sync to {self.repo_id}: {reason}"

    def flush(self, timeout: float) -> bool:
        """Push what is pending now, waiting at most ``timeout`` seconds (when the app stops); whether it went."""
        pushed = threading.Event()

        def push() -> None:
            try:
                self.push_now()
                pushed.set()
            except Exception as err:  # noqa: BLE001 - the Hub is down or refuses: the labels stay pending
                self._failed(err)

        thread = threading.Thread(target=push, name="maskface-hub-flush", daemon=True)
        thread.start()
        thread.join(timeout)
        if pushed.is_set():
            log.info("pushed the pending labels to %s before stopping", self.repo_id)
        return pushed.is_set()

    def stop(self) -> None:
        """Stop connecting and pushing (what is pending stays pending, for the next start)."""
        self._stopped.set()
        if self._scheduler is not None:
            self._scheduler.stop()

    # ----------------------------------------------------------------------

    def _connect_until_done(self) -> None:
        while not self._stopped.is_set():
            try:
                self._connect()
                return
            except Exception:  # noqa: BLE001 - any failure (network, auth) is retried; the reason is shown
                self._stopped.wait(self.retry_seconds)

    def _connect(self) -> None:
        with self._connecting:
            if self._scheduler is not None:
                return
            try:
                self._scheduler = _Scheduler(
                    self,
                    repo_id=self.repo_id,
                    repo_type="dataset",
                    folder_path=self._store.folder,
                    every=self.every_minutes,
                    private=True,
                    hf_api=self.api,
                )
            except Exception as err:
                self._failed(err)
                raise
            if self._stopped.is_set():  # stopped while connecting
                self._scheduler.stop()
            log.info("syncing %s with the Hub dataset %s", self._store.folder, self.repo_id)

    def _failed(self, err: Exception) -> None:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        self._error = f"the last attempt failed ({type(err).__name__}: {first_line}); retrying"
        log.warning("Hub sync of %s: %s", self.repo_id, self._error)

    def _push(self) -> None:
        """One commit bringing the repo to the store's current snapshot (none when it already is)."""
        if self._stopped.is_set():
            return
        try:
            state = self._read_state()
            if not state["pulled"]:
                state = self._pull()
            if state["squash_needed"]:
                state = self._squash(state)
            self._commit(state)
        except Exception as err:
            self._failed(err)
            raise
        self._error = None

    def _pull(self) -> dict:
        """Merge the repo's labels into the store; return the state saying what the repo holds."""
        staging = self._store.folder / PULL
        shutil.rmtree(staging, ignore_errors=True)
        self.api.snapshot_download(repo_id=self.repo_id, repo_type="dataset", local_dir=staging)
        metadata = (staging / METADATA).read_bytes() if (staging / METADATA).exists() else b""
        merged = self._store.merge(staging, skip=lambda record: any(deleted(record) for deleted in self._forgotten))
        files = [
            record["file_name"]
            for record in map(json.loads, metadata.splitlines())
            if is_stored_record(record) and (staging / record["file_name"]).is_file()
        ]
        shutil.rmtree(staging)
        self._forgotten.clear()  # from now on the store holds every label: deleting there is enough
        log.info("pulled %s: %d labels merged into %s", self.repo_id, merged, self._store.folder)
        return self._save(files, _sha256(metadata), squash_needed=False)

    def _commit(self, state: dict) -> None:
        metadata, files = self._store.snapshot()
        synced = set(state["files"])
        added = [name for name in files if name not in synced]
        deleted = sorted(synced - set(files))
        if not added and not deleted and _sha256(metadata) == state["metadata_sha256"]:
            return
        folder = self._store.folder
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=folder / name) for name in added]
        operations += [CommitOperationDelete(path_in_repo=name) for name in deleted]
        operations.append(CommitOperationAdd(path_in_repo=METADATA, path_or_fileobj=metadata))
        self.api.create_commit(
            repo_id=self.repo_id,
            repo_type="dataset",
            operations=operations,
            commit_message=f"maskface labels: {len(added)} added, {len(deleted)} removed",
        )
        state = self._save(files, _sha256(metadata), squash_needed=bool(deleted))
        log.info("pushed to %s: %d labels added, %d removed", self.repo_id, len(added), len(deleted))
        if deleted:
            self._squash(state)

    def _squash(self, state: dict) -> dict:
        """Squash the repo's history, so deleted crops survive in no earlier commit."""
        self.api.super_squash_history(repo_id=self.repo_id, repo_type="dataset")
        return self._save(state["files"], state["metadata_sha256"], squash_needed=False)

    def _read_state(self) -> dict:
        """What the repo holds according to the last pull or push (nothing, not pulled, for another repo)."""
        try:
            state = json.loads((self._store.folder / STATE).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):  # unreadable: pull and push again (idempotent)
            state = {}
        if state.get("repo_id") != self.repo_id:
            empty = _sha256(b"")  # an empty store has nothing to push
            return {"files": [], "synced_at": None, "metadata_sha256": empty, "squash_needed": False, "pulled": False}
        return state

    def _save(self, files: list[str], metadata_sha256: str, *, squash_needed: bool) -> dict:
        """Record what the repo now holds (after a pull, a commit or a squash)."""
        state = {
            "repo_id": self.repo_id,
            "pulled": True,
            "synced_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "files": files,
            "metadata_sha256": metadata_sha256,
            "squash_needed": squash_needed,
        }
        path = self._store.folder / STATE
        tmp = path.with_name(STATE + ".tmp")  # one push at a time: a fixed name leaves no litter after a crash
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, path)
        return state


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Scheduler(CommitScheduler):
    """CommitScheduler whose push is :meth:`HubSync._push` (pull first, diff against the saved state, deletions)."""

    def __init__(self, sync: HubSync, **kwargs) -> None:
        self._sync = sync  # set first: the parent's constructor starts the thread that pushes
        super().__init__(**kwargs)

    def push_to_hub(self) -> None:
        with self.lock:
            self._sync._push()
