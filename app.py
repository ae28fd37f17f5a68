"""WSGI entry point: ``app = create_app()``; ``flask --app app ...`` works too."""

from portal.app_factory import create_app

app = create_app()
