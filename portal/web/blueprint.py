"""The portal's own routes beside the generated ones: attachment downloads, static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, g, send_file
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from portal.engines.attachments import file_path
from portal.runtime import runtime
from portal.system_models import Attachment
from portal.web.access_columns import hidden_fields
from portal.web.my_work_data import counts
from portal.web.ui_text import ui_text


def portal_blueprint() -> Blueprint:
    """A fresh blueprint (one per app) with the portal's routes and static files."""
    here = Path(__file__).parent
    bp = Blueprint("portal", __name__, url_prefix="/portal",
                   static_folder=str(here / "static"), static_url_path="/static")

    @bp.app_context_processor
    def interface_words() -> dict[str, Any]:
        return {"ui": ui_text, "csrf_token": generate_csrf, "my_counts": counts}

    @bp.route("/attachment/<int:attachment_id>")
    def download(attachment_id: int):  # type: ignore[no-untyped-def]
        """Send an attachment if the user may read the record and field holding it."""
        if not getattr(g.get("user"), "is_authenticated", False):
            abort(401)
        session = current_app.appbuilder.session
        attachment = session.get(Attachment, attachment_id)
        rt = runtime()
        if attachment is None or attachment.entity not in rt.registry.entities:
            abort(404)
        entity = rt.registry.entity(attachment.entity)
        if not current_app.appbuilder.sm.has_access("can_read", entity.name):
            abort(403)
        if attachment.field in hidden_fields(entity):
            abort(404)
        model = rt.models.classes[entity.name]
        column = getattr(model, f"{attachment.field}_id")
        # Through the ORM, so the user's read scope decides whether the record is visible.
        holder = session.scalars(select(model.id).where(column == attachment.id)).first()
        if holder is None:
            abort(404)
        path = file_path(rt.attachment_dir, attachment)
        if not path.is_file():
            abort(410, description="the file is missing from storage")
        return send_file(path, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.filename)

    return bp
