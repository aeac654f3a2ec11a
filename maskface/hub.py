"""Every call to the Hugging Face Hub, in one small module.

Keeping them here makes the offline behaviour easy to see and to test: the
rest of the code deals in local folders only.

With ``MASKFACE_HUB_MIRROR`` set to a folder, model repos are read from and
written to that folder instead of the Hub (tests, offline demos):
``<folder>/<org>/<name>/commits/<commit>/`` holds each uploaded version and
``refs/<branch>`` (``main`` unless a revision is given) names the latest one.
As in the Hub cache, a downloaded version's folder is named after its commit.
A deployed Space lies under ``<folder>/spaces/<org>/<name>/`` the same way,
with ``settings.json`` for its SDK, variables and secrets (a secret's SHA-256
only, never its value).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import huggingface_hub
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from .config import settings

#: How a model source names a Hub repo: ``hf://org/name[@revision]``.
HF_PREFIX = "hf://"
_MIRROR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def split_revision(repo: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")``; no ``@`` means the latest revision."""
    repo_id, _, revision = repo.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"expected a Hub repo as org/name[@revision], got {repo!r}")
    return repo_id, revision or None


def mirror() -> Path | None:
    """The local folder standing in for the Hub (``MASKFACE_HUB_MIRROR``), or ``None`` for the real Hub."""
    return settings().hub_mirror


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


def deploy_space(folder: str | Path, repo: str, variables: Mapping[str, str], secrets: Mapping[str, str], message: str) -> str:
    """Create (or update) the Gradio Space ``repo`` to hold exactly ``folder``'s files; returns the Space's URL.

    Files the Space holds that ``folder`` lacks are deleted in the same commit
    (``.gitattributes`` stays). Each variable and secret is then set on the
    Space (``add_space_variable``, ``add_space_secret``). The token is the
    ``HF_TOKEN`` setting, else huggingface_hub's own login.
    """
    repo_id, revision = split_revision(repo)
    if revision:
        raise ValueError(f"a Space is deployed to its main branch: give ORG/NAME, not {repo!r}")
    root = mirror()
    if root is not None:
        return _mirror_space(root, repo_id, Path(folder), variables, secrets)
    api = huggingface_hub.HfApi(token=settings().hf_token, library_name="maskface")
    url = api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    api.upload_folder(
        repo_id=repo_id, repo_type="space", folder_path=str(folder), commit_message=message, delete_patterns="*"
    )
    for key, value in variables.items():
        api.add_space_variable(repo_id, key, value)
    for key, value in secrets.items():
        api.add_space_secret(repo_id, key, value)
    return str(url)


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


def _mirror_space(
    root: Path, repo_id: str, folder: Path, variables: Mapping[str, str], secrets: Mapping[str, str]
) -> str:
    """The stand-in of :func:`deploy_space`: a new version under ``spaces/``, and the Space's settings."""
    spaces = root / "spaces"
    _mirror_upload(spaces, repo_id, None, folder)
    repo, _ = _mirror_repo(spaces, repo_id, None)
    path = repo / "settings.json"
    current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"variables": {}, "secrets": {}}
    current["sdk"] = "gradio"
    current["variables"].update(variables)
    current["secrets"].update({k: "sha256:" + hashlib.sha256(v.encode()).hexdigest() for k, v in secrets.items()})
    path.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return repo.as_uri()
