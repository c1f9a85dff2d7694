"""Upload the dashboards to a Grafana with grafana-client, idempotently.

The folder is found by title (or created with a stable uid); dashboards are written with
their fixed uids and ``overwrite``, so a second push updates them in place.
"""

from __future__ import annotations

import re
from typing import Any

from grafana_client import GrafanaApi


def folder_uid(title: str) -> str:
    return "yujing-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:30]


def ensure_folder(api: GrafanaApi, title: str) -> str:
    for folder in api.folder.get_all_folders():
        if folder.get("title") == title:
            return str(folder["uid"])
    return str(api.folder.create_folder(title, uid=folder_uid(title))["uid"])


def push(
    url: str, token: str, folder: str, models: dict[str, dict[str, Any]]
) -> list[tuple[str, str, int]]:
    """Returns (name, uid, version) per dashboard as Grafana stored it."""
    api = GrafanaApi.from_url(url, credential=token)
    uid = ensure_folder(api, folder)
    done = []
    for name, model in models.items():
        body = {
            "dashboard": {**model, "id": None},
            "folderUid": uid,
            "overwrite": True,
            "message": "yujing dashboards push",
        }
        answer = api.dashboard.update_dashboard(body)
        done.append((name, str(answer.get("uid", model["uid"])), int(answer.get("version", 0))))
    return done
