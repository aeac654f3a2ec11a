"""Every call to the Hugging Face Hub, in one small module.

Keeping them here makes the offline behaviour easy to see and to test: the
rest of the code deals in local folders only.

With ``MASKFACE_HUB_MIRROR`` set to a folder, model repos are read from and
written to that folder instead of the Hub (tests, offline demos):
``<folder>/<org>/<name>/commits/<commit>/`` holds each uploaded version and
``refs/<branch>`` (``main`` unless a revision is given) names the latest one.
As in the Hub cache, a downloaded version's folder is named after its commit.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

import huggingface_hub
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

MIRROR_ENV = "MASKFACE_HUB_MIRROR"
_MIRROR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def split_revision(repo: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")``; no ``@`` means the latest revision."""
    repo_id, _, revision = repo.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"expected a Hub repo as org/name[@revision], got {repo!r}")
    return repo_id, revision or None


def mirror() -> Path | None:
    """The local folder standing in for the Hub (``MASKFACE_HUB_MIRROR``), or ``None`` for the real Hub."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value) if value else None


def download_model(repo: str) -> Path:
    """Download (or reuse from the Hub cache) a model repo and return its local folder."""
    repo_id, revision = split_revision(repo)
    root = mirror()
    if root is not None:
        return _mirror_version(root, repo_id, revision)
    return Path(huggingface_hub.snapshot_download(repo_id=repo_id, revision=revision, library_name="maskface"))


def download_file(repo: str, filename: str) -> Path | None:
    """One file of a model repo's latest (or pinned) version; ``None`` when the repo, revision or file does not exist.

    An unreachable Hub raises: "could not ask" must not read as "nothing there".
    """
    repo_id, revision = split_revision(repo)
    root = mirror()
    if root is not None:
        try:
            path = _mirror_version(root, repo_id, revision) / filename
        except FileNotFoundError:
            return None
        return path if path.is_file() else None
    try:
        return Path(huggingface_hub.hf_hub_download(repo_id, filename, revision=revision, library_name="maskface"))
    except (RepositoryNotFoundError, RevisionNotFoundError, RemoteEntryNotFoundError):
        return None


def upload_model(folder: str | Path, repo: str, message: str) -> str:
    """Upload a saved model folder (weights, spec and card) to a model repo; returns the commit URL.

    The repo then holds exactly the folder's files (older files are deleted in
    the same commit); hidden files and folders (e.g. an unfinished run's) are not sent.
    """
    repo_id, revision = split_revision(repo)
    root = mirror()
    if root is not None:
        return _mirror_upload(root, repo_id, revision, Path(folder))
    api = huggingface_hub.HfApi(library_name="maskface")
    api.create_repo(repo_id, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        revision=revision,
        commit_message=message,
        ignore_patterns=".*",
        delete_patterns="*",
    )
    return str(info)


def _mirror_repo(root: Path, repo_id: str, revision: str | None) -> tuple[Path, str]:
    """The mirror folder of ``repo_id`` and the ref name; names that could leave the mirror are refused."""
    ref = revision or "main"
    for part in (*repo_id.split("/"), ref):
        if not _MIRROR_NAME.fullmatch(part) or ".." in part:
            raise ValueError(f"{part!r} is not usable as a repo or revision name in the Hub mirror")
    return root / repo_id, ref


def _mirror_version(root: Path, repo_id: str, revision: str | None) -> Path:
    repo, ref = _mirror_repo(root, repo_id, revision)
    ref_file = repo / "refs" / ref
    commit = ref_file.read_text().strip() if ref_file.is_file() else ref
    folder = repo / "commits" / commit
    if not folder.is_dir():
        raise FileNotFoundError(f"{repo_id}@{ref} is not in the Hub mirror {root}")
    return folder


def _mirror_upload(root: Path, repo_id: str, revision: str | None, folder: Path) -> str:
    repo, ref = _mirror_repo(root, repo_id, revision)
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.relative_to(folder).parts)
    )
    digest = hashlib.sha1()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    commit = digest.hexdigest()
    target = repo / "commits" / commit
    if not target.is_dir():
        tmp = repo / "commits" / f".tmp-{uuid.uuid4().hex}"
        for path in files:
            (tmp / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, tmp / path.relative_to(folder))
        tmp.replace(target)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    tmp_ref = repo / "refs" / f".tmp-{uuid.uuid4().hex}"
    tmp_ref.write_text(commit + "\n")
    tmp_ref.replace(repo / "refs" / ref)
    return target.as_uri()
