"""Reading a small JSON request body of known keys, answering bad ones the API's way."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Optional

from flask import request


def json_object(api: Any, allowed: Collection[str], optional: bool = False
                ) -> tuple[Optional[dict[str, Any]], Any]:
    """The request's JSON object and None, or None and the answer to send: 400 when the
    body is not a JSON object, 422 naming each key outside ``allowed``. With ``optional`` an
    empty body reads as ``{}``."""
    body: Any = {} if optional and not request.get_data() else request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, api.response_400(message="the body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        return None, api.response_422(message={k: ["Unknown field."] for k in unknown})
    return body, None
