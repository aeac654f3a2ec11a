"""Every call to the Hugging Face Hub, in one small module.

Keeping them here makes the offline behaviour easy to see and to test: the
rest of the code deals in local folders only.
"""

from __future__ import annotations

from pathlib import Path

import huggingface_hub


def split_revision(repo: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")``; no ``@`` means the latest revision."""
    repo_id, _, revision = repo.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"expected a Hub repo as org/name[@revision], got {repo!r}")
    return repo_id, revision or None


def download_model(repo: str) -> Path:
    """Download (or reuse from the Hub cache) a model repo and return its local folder."""
    repo_id, revision = split_revision(repo)
    return Path(huggingface_hub.snapshot_download(repo_id=repo_id, revision=revision, library_name="maskface"))


def upload_model(folder: str | Path, repo: str, message: str) -> str:
    """Upload a saved model folder (weights, spec and card) to a model repo; returns the commit URL."""
    repo_id, revision = split_revision(repo)
    api = huggingface_hub.HfApi(library_name="maskface")
    api.create_repo(repo_id, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision, commit_message=message)
    return str(info)
