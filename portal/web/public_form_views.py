"""Public forms (web-to-lead): ``/public/<slug>``, a page anyone may fill in and an anonymous
endpoint taking the page's form post or JSON from a website.

Every POST is counted per client address first (``portal.engines.rate_limit``; 429 with
Retry-After beyond the form's ``rate_limit``). A post must carry a token from the page (or
from ``GET /public/<slug>/form`` for websites), signed and time-stamped
(``portal.web.form_token``). A filled-in honeypot, or a post sent sooner than a person
could, is answered like a success and saves nothing. Field errors answer 422 naming the
fields (the page shows them beside the inputs), and nothing is written. A repeat of an
existing record gets the same thanks as a new one: the public learns nothing of the records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from portal.engines.rate_limit import hit
from portal.runtime import act_as, runtime
from portal.spec.model import EntitySpec, FieldSpec
from portal.spec.public_form import KEY, PublicFormSpec
from portal.web import form_token
from portal.web.i18n import LANGUAGES, humanize
from portal.web.public_form_text import text_for
from portal.web.public_submit import TOKEN_KEY, Submission, form_actor, read, save
from portal.web.records import RecordInvalid

log = logging.getLogger("portal.public_form")

#: HTML input types by field type (others are text boxes).
INPUT_TYPES: Mapping[str, str] = {
    "email": "email", "phone": "tel", "url": "url", "int": "number", "date": "date",
    "datetime": "datetime-local"}
#: Default for ``PORTAL_PUBLIC_FORM_MIN_SECONDS``: a person needs longer to fill a form in.
MIN_SECONDS = 3.0


def _form(slug: str) -> tuple[PublicFormSpec, EntitySpec, type]:
    rt = runtime()
    for spec in rt.registry.features.get(KEY, {}).values():
        if spec.slug == slug:
            return spec, rt.registry.entity(spec.entity), rt.models.classes[spec.entity]
    abort(404)


def page_locale() -> str:
    """``?lang=`` if given, else the browser's Accept-Language (en, zh_CN or zh_TW)."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    best = request.accept_languages.best_match(["en", "zh-CN", "zh-TW", "zh"])
    if best is None:
        return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "en"))
    return {"zh-CN": "zh_CN", "zh-TW": "zh_TW", "zh": "zh_CN"}.get(best, best)


def _min_seconds() -> float:
    return float(current_app.config.get("PUBLIC_FORM_MIN_SECONDS", MIN_SECONDS))


def _inputs(form: PublicFormSpec, entity: EntitySpec, locale: str,
            sub: Optional[Submission]) -> list[dict[str, Any]]:
    """What the page shows per field: label, help, input type, choices, value, errors."""
    out = []
    for name in form.fields:
        f: FieldSpec = entity.fields[name]
        out.append({
            "name": name, "type": f.type, "required": f.required,
            "label": f.label.get(locale, humanize(name)), "help": f.help.get(locale, ""),
            "input": INPUT_TYPES.get(f.type, "text"),
            "maxlength": f.max_length or f.length or (255 if f.type == "string" else None),
            "choices": [(v, f.value_labels[v].get(locale, v) if v in f.value_labels else v)
                        for v in f.values],
            "value": (sub.texts.get(name, "") if sub else ""),
            "errors": [text_for(e, locale) for e in (sub.errors.get(name, []) if sub else [])],
        })
    return out


def _page(form: PublicFormSpec, entity: EntitySpec, status: int = 200,
          sub: Optional[Submission] = None, message: str = "", thanks: bool = False
          ) -> Response:
    locale = page_locale()
    secret = current_app.config["SECRET_KEY"]
    html = render_template(
        "portal/public_form.html", form=form, locale=locale, thanks=thanks, message=message,
        title=form.title.get(locale, humanize(entity.name)), intro=form.intro.get(locale, ""),
        thanks_text=form.thanks.get(locale, ""), inputs=_inputs(form, entity, locale, sub),
        token=form_token.issue(secret, form.slug), token_key=TOKEN_KEY,
        languages=LANGUAGES, t=lambda text: text_for(text, locale))
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the page carries a fresh token
    response.headers["Content-Language"] = locale.replace("_", "-")
    return response


def _json(code: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = code
    return response


def _thanks(form: PublicFormSpec, entity: EntitySpec, as_json: bool) -> Response:
    if as_json:
        return _json(200, status="received", message=form.thanks.get(page_locale(), ""))
    return _page(form, entity, thanks=True)


def public_form_blueprint() -> Blueprint:
    """A fresh blueprint (one per app) with the public form routes."""
    bp = Blueprint("public_form", __name__, url_prefix="/public")

    @bp.after_request
    def allow_embedding(response: Response) -> Response:
        # Websites post leads with fetch() from their own origin. No cookie or credential is
        # read here, so any origin may call.
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        return response

    @bp.route("/<slug>", methods=["GET"])
    def page(slug: str) -> Response:
        """The form, in the browser's language."""
        form, entity, _model = _form(slug)
        return _page(form, entity)

    @bp.route("/<slug>/form", methods=["GET"])
    def describe(slug: str) -> Response:
        """The form for websites: its fields, and a token to send with the POST."""
        form, entity, _model = _form(slug)
        locale = page_locale()
        fields = [{k: v for k, v in item.items() if k not in ("value", "errors", "input")}
                  for item in _inputs(form, entity, locale, None)]
        return _json(200, title=form.title.get(locale, ""), fields=fields,
                     token=form_token.issue(current_app.config["SECRET_KEY"], form.slug),
                     token_field=TOKEN_KEY, honeypot_field=form.honeypot,
                     rate_limit=form.rate_limit.text)

    @bp.route("/<slug>", methods=["POST"])
    def submit(slug: str) -> Response:
        """Take one submission (the page's form post, or JSON)."""
        form, entity, model = _form(slug)
        as_json = request.is_json
        locale = page_locale()
        address = request.remote_addr or "unknown"
        decision = hit(current_app.extensions["sqlalchemy"].engine,
                       f"{KEY}:{form.slug}:{address}", form.rate_limit.count,
                       form.rate_limit.seconds)
        if not decision.allowed:
            log.warning("public form %s: %s over the rate limit (%s)", form.slug, address,
                        form.rate_limit.text)
            message = text_for("Too many submissions from your address. Please try again "
                               "in %(minutes)s minute(s).", locale,
                               minutes=max(1, -(-decision.retry_after // 60)))
            response = _json(429, message=message, retry_after=decision.retry_after) \
                if as_json else _page(form, entity, 429, message=message)
            response.headers["Retry-After"] = str(decision.retry_after)
            return response
        body = _body(as_json)
        if body is None:
            return _json(400, message="the body must be a JSON object")
        sub = read(form, entity, body, strict=as_json)
        verdict = form_token.verdict(current_app.config["SECRET_KEY"], form.slug, sub.token,
                                     _min_seconds())
        if verdict in ("bad", "expired"):
            if as_json:
                return _json(400, message=f"the form token ({TOKEN_KEY}) is missing, invalid "
                             f"or expired: get a new one from /public/{form.slug}/form",
                             field=TOKEN_KEY)
            return _page(form, entity, 400, sub=sub, message=text_for(
                "The form could not be verified (it may have been open too long). Please "
                "send it again.", locale))
        if sub.honeypot or verdict == "fast":
            log.warning("public form %s: ignored a submission from %s (%s)", form.slug,
                        address, "honeypot filled" if sub.honeypot else "sent too fast")
            return _thanks(form, entity, as_json)
        if sub.errors:
            return _refused(form, entity, sub, as_json)
        session = current_app.appbuilder.session
        act_as(form_actor(form))
        try:
            saved = save(session, form, entity, model, sub.values)
            session.commit()
        except RecordInvalid as exc:
            session.rollback()
            sub.errors.update(exc.errors)
            return _refused(form, entity, sub, as_json)
        except Exception:
            session.rollback()
            raise
        log.info("public form %s: %s %s #%s from %s", form.slug, saved.outcome, entity.name,
                 saved.record_id, address)
        return _thanks(form, entity, as_json)

    return bp


def _body(as_json: bool) -> Optional[dict[str, Any]]:
    """The submission's keys and values (None: a JSON body that is not an object)."""
    if as_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else None
    return {key: request.form.get(key) for key in request.form}


def _refused(form: PublicFormSpec, entity: EntitySpec, sub: Submission,
             as_json: bool) -> Response:
    """422 naming each field and why; the page shows the form again with the messages."""
    if as_json:
        return _json(422, message=sub.errors)
    return _page(form, entity, 422, sub=sub,
                 message=text_for("Please correct the fields marked below.", page_locale()))
