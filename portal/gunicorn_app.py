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


def _fresh_pools(app: Any) -> Any:
    """A ``post_fork`` hook: each worker opens its own database connections instead of
    sharing the ones the parent process opened while building the app."""

    def post_fork(_server: Any, _worker: Any) -> None:
        with app.app_context():
            for engine in app.extensions["sqlalchemy"].engines.values():
                engine.dispose(close=False)

    return post_fork


def run_gunicorn(app: Any, host: str, port: int, workers: int) -> None:
    """Serve ``app`` with ``workers`` gunicorn processes (blocks)."""
    _PortalGunicorn(app, {"bind": f"{host}:{port}", "workers": workers,
                          "accesslog": "-", "post_fork": _fresh_pools(app)}).run()
