"""HTML widgets the generated forms need beyond FAB's own."""

from __future__ import annotations

from typing import Any

from flask import url_for
from markupsafe import Markup, escape

from portal.web.ui_text import ui_text

#: Row fields drawn as a select2 box: their column gets room for the option text.
_SELECT_TYPES = frozenset({"SelectField", "QuerySelectField", "QuerySelectMultipleField"})


def _cell(sub: Any) -> str:
    errors = "".join(f'<div class="help-block small">{escape(e)}</div>' for e in sub.errors)
    css = "" if sub.type == "BooleanField" else "form-control input-sm"
    classes = " ".join(c for c in ("portal-cell-select" if sub.type in _SELECT_TYPES else "",
                                   "has-error" if sub.errors else "") if c)
    td = f'<td class="{classes}">' if classes else "<td>"
    return f"{td}{sub(class_=css)}{errors}</td>"


class ChildTableWidget:
    """Renders a FieldList of row forms as an editable table with add/remove buttons.

    A ``<template>`` holds a blank row whose names use ``__index__``; ``portal.js`` clones it.
    """

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        row_form = field.unbound_field.args[0]
        blank = row_form(prefix=f"{field.name}-__index__-")
        names = [n for n in blank._fields if n != "id"]
        head = "".join(f"<th>{escape(blank[n].label.text)}</th>" for n in names)

        def row(form: Any) -> str:
            cells = "".join(_cell(form[n]) for n in names)
            return (f'<tr class="portal-child-row">{cells}<td>{form["id"]()}'
                    '<button type="button" class="btn btn-xs btn-danger portal-remove-row" '
                    f'title="{escape(ui_text("Remove row"))}">&times;</button></td></tr>')

        rows = "".join(row(entry.form) for entry in field.entries)
        return Markup(
            f'<div class="portal-children" data-name="{escape(field.name)}" '
            f'id="{escape(field.id)}">'
            f'<table class="table table-condensed table-bordered"><thead><tr>{head}<th></th>'
            f'</tr></thead><tbody>{rows}</tbody></table>'
            f'<template>{row(blank)}</template>'
            '<button type="button" class="btn btn-sm btn-default portal-add-row">'
            f'<i class="fa fa-plus"></i> {escape(ui_text("Add row"))}</button></div>'
        )


class FileInputWidget:
    """A file input that also links to the file already attached, if any."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        current = ""
        attachment = getattr(field, "object_data", None)
        if attachment is not None and getattr(attachment, "id", None):
            href = url_for("portal.download", attachment_id=attachment.id)
            current = (f'<p class="help-block"><a href="{escape(href)}">'
                       f'<i class="fa fa-paperclip"></i> {escape(attachment.filename)}</a></p>')
        return Markup(f'{current}<input type="file" name="{escape(field.name)}" '
                      f'id="{escape(field.id)}" class="form-control">')
