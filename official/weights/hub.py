"""timm weights the way the Hugging Face hub stores them: a folder with `model.safetensors` and
`config.json`, whose `"architecture"` names the timm model and whose `"pretrained_cfg"` says how
its inputs were preprocessed (docs/weights.md, "Hub snapshots").

Accepted as `weights=` and by `python -m official.weights convert --file=`:
    a snapshot folder              .../tf_efficientnet_b0.ns_jft_in1k/  (model.safetensors inside)
    a safetensors file             .../model.safetensors, config.json read when it lies beside it
    hf://<repo>                    hf://timm/tf_efficientnet_b0.ns_jft_in1k, fetched through
                                   huggingface_hub: its cache, HF_HUB_OFFLINE and HF_ENDPOINT apply
The architecture then comes from config.json, never from the folder's name.
"""

from __future__ import annotations

import dataclasses
import json
import os

from official.weights import storage

SCHEME = "hf://"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class HubFiles:
    """weights: the local safetensors file; architecture: the timm model config.json names (None
    without a config.json); pretrained_cfg: its preprocessing record ({} without one)."""

    weights: str
    architecture: str | None
    pretrained_cfg: dict


def is_hub_source(weights) -> bool:
    """True for what `locate` reads: hf://..., a folder holding model.safetensors, or a
    .safetensors file."""
    if not isinstance(weights, str):
        return False
    if weights.startswith(SCHEME) or weights.endswith(".safetensors"):
        return True
    return storage.isdir(weights) and storage.exists(os.path.join(weights, WEIGHTS_FILE))


def locate(weights: str) -> HubFiles:
    """The safetensors file and config.json of a hub source (see the module docstring); an
    error naming what is missing otherwise."""
    if weights.startswith(SCHEME):
        folder = _download(weights.removeprefix(SCHEME))
        return HubFiles(os.path.join(folder, WEIGHTS_FILE), *_read_config(folder, weights))
    if storage.isdir(weights):
        path = os.path.join(weights, WEIGHTS_FILE)
        if not storage.exists(path):
            raise FileNotFoundError(
                f"weights={weights!r} is a folder without {WEIGHTS_FILE}: pass a timm hub "
                "snapshot folder, or the weights file itself."
            )
        return HubFiles(path, *_read_config(weights, weights))
    if not storage.exists(weights):
        raise FileNotFoundError(f"weights={weights!r}: no such file.")
    return HubFiles(weights, *_read_config(os.path.dirname(weights), weights))


def _read_config(folder: str, source: str) -> tuple[str | None, dict]:
    path = os.path.join(folder, CONFIG_FILE)
    if not folder or not storage.exists(path):
        return None, {}
    try:
        with storage.open_file(path, "r") as f:
            config = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"weights={source!r}: {path} is not valid JSON ({error}).") from None
    if not isinstance(config, dict) or not isinstance(config.get("architecture"), str):
        raise ValueError(
            f'weights={source!r}: {path} names no timm "architecture"; a timm hub config '
            'has one (e.g. "tf_efficientnet_b0").'
        )
    cfg = config.get("pretrained_cfg")
    return config["architecture"], cfg if isinstance(cfg, dict) else {}


def _hub_options() -> dict:
    """huggingface_hub's own environment variables, read at each call rather than when it was
    imported, so that a program (or test) that sets them later is honoured: HF_ENDPOINT, the
    cache (HF_HUB_CACHE, or HF_HOME/hub) and HF_HUB_OFFLINE."""
    env = os.environ
    cache = env.get("HF_HUB_CACHE") or (
        os.path.join(env["HF_HOME"], "hub") if env.get("HF_HOME") else None
    )
    offline = env.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    return {"endpoint": env.get("HF_ENDPOINT"), "cache_dir": cache, "local_files_only": offline}


def _download(repo_id: str) -> str:
    """The local folder holding the repo's model.safetensors and config.json (cached by
    huggingface_hub; with HF_HUB_OFFLINE=1 only the cache is read)."""
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(
            f"weights={SCHEME}{repo_id!r} names no hub repository; use "
            f"{SCHEME}<owner>/<name>, e.g. {SCHEME}timm/resnet50.a1_in1k."
        )
    try:
        import huggingface_hub
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
        )
    except ImportError:
        raise ImportError(
            f"weights={SCHEME}{repo_id}: fetching from the hub needs huggingface_hub "
            "(pip install -r requirements.txt)."
        ) from None
    options = _hub_options()
    try:
        weights = huggingface_hub.hf_hub_download(repo_id, WEIGHTS_FILE, **options)
    except LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"weights={SCHEME}{repo_id}: not in the hub cache and the hub is not reachable "
            "(offline: HF_HUB_OFFLINE, or no network); fetch it once online, or pass the "
            "snapshot folder."
        ) from None
    except EntryNotFoundError:
        raise FileNotFoundError(
            f"weights={SCHEME}{repo_id}: the repository has no {WEIGHTS_FILE}."
        ) from None
    except HfHubHTTPError as error:
        first = str(error).strip().splitlines()[0]
        raise FileNotFoundError(f"weights={SCHEME}{repo_id}: the hub answered: {first}") from None
    folder = os.path.dirname(weights)
    try:
        huggingface_hub.hf_hub_download(repo_id, CONFIG_FILE, **options)
    except (EntryNotFoundError, LocalEntryNotFoundError):
        pass  # a repo (or cache) without config.json: the architecture must come from elsewhere
    except HfHubHTTPError as error:
        first = str(error).strip().splitlines()[0]
        raise FileNotFoundError(
            f"weights={SCHEME}{repo_id}: its {CONFIG_FILE} could not be read: {first}"
        ) from None
    return folder
