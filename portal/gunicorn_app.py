"""Serving the portal with gunicorn from ``portal serve --workers N``."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _PortalGunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def run_gunicorn(app: Any, host: str, port: int, workers: int) -> None:
    """Serve ``app`` with ``workers`` gunicorn processes (blocks)."""
    _PortalGunicorn(app, {"bind": f"{host}:{port}", "workers": workers,
                          "accesslog": "-"}).run()
