"""Duplicates and merge on the screens and the REST API of any entity.

``/<entity>/duplicates`` lists candidate duplicate groups with a merge form each;
``/<entity>/merge`` (a form post) and ``POST /api/v1/<entity>/merge`` merge records through
:func:`portal.engines.merge.merge`. All of them need the entity's ``can_merge`` permission
(``merge: true`` in a role's access rule); the engine checks the records themselves.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from portal.engines.access import AccessDenied
from portal.engines.duplicates import duplicate_groups
from portal.engines.merge import MergeOutcome, MergeRefused, merge
from portal.runtime import acting_principal, request_principal, runtime
from portal.web.access_columns import hidden_fields
from portal.web.csrf import require_csrf
from portal.web.i18n import current_locale
from portal.web.json_body import json_object
from portal.web.records import RecordInvalid
from portal.web.ui_text import ui_text

#: The most groups the duplicates page lists (the count says how many there are).
MAX_GROUPS = 200


def duplicates_page(view: Any) -> Any:
    """The candidate duplicate groups of ``view``'s entity that the user may read."""
    entity = view.entity
    groups = duplicate_groups(view._session(), entity, view.model, request_principal())
    label = entity.label.get(current_locale(), entity.name)
    return view.render_template(
        "portal/duplicates.html", groups=groups[:MAX_GROUPS], total=len(groups),
        title=ui_text("Duplicates: %(entity)s", entity=label), entity=entity,
        merge_url=url_for(f"{view.endpoint}.merge"),
        show_url=lambda pk: url_for(f"{view.endpoint}.show", pk=pk))


def _form_ids() -> tuple[Any, list[Any]]:
    """The master and the others posted by the duplicates page (ints where they parse)."""
    def number(text: str) -> Any:
        return int(text) if text.strip().isdigit() else text

    master = number(request.form.get("master", ""))
    others = [number(v) for v in request.form.getlist("others") if number(v) != master]
    return master, others


def merge_from_form(view: Any) -> Any:
    """Merge what the duplicates page posted; show the master, or the page with why not."""
    require_csrf()
    master, others = _form_ids()
    session = view._session()
    rt = runtime()
    try:
        done = merge(session, rt.registry, rt.models.classes, view.entity.name, master,
                     others, acting_principal())
        session.commit()
    except AccessDenied as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(f"{view.endpoint}.duplicates"))
    except MergeRefused as exc:
        session.rollback()
        for reasons in exc.errors.values():
            for reason in reasons:
                flash(reason, "danger")
        return redirect(url_for(f"{view.endpoint}.duplicates"))
    flash(ui_text("Merged %(merged)s into #%(master)s.", master=done.master_id,
                  merged=", ".join(f"#{i}" for i in done.merged)), "success")
    return redirect(url_for(f"{view.endpoint}.show", pk=done.master_id))


def merge_response(api: Any) -> Any:
    """``POST /api/v1/<entity>/merge`` with ``{"master": id, "others": [ids]}``: 200 with
    the master as it is now, 422 by field for bad input, 403 when the user may not merge."""
    body, refused = json_object(api, {"master", "others"})
    if body is None:
        return refused
    rt = runtime()
    outcome: list[MergeOutcome] = []

    def change() -> None:
        try:
            outcome.append(merge(api._session(), rt.registry, rt.models.classes,
                                 api.entity.name, body.get("master"), body.get("others"),
                                 acting_principal()))
        except MergeRefused as exc:
            raise RecordInvalid(exc.errors) from exc

    refused = api._write(change, "the merge conflicts with another change")
    if refused is not None:
        return refused
    done = outcome[0]
    master = api.datamodel.get(done.master_id, api._base_filters)
    hidden = hidden_fields(api.entity)
    return api.response(200, id=done.master_id, result=api.show_model_schema.dump(master),
                        merged=list(done.merged),
                        taken={k: v for k, v in done.taken.items() if k not in hidden},
                        relinked=dict(done.relinked))
