"""URL rules that compile their URL builders on first use instead of at registration.

Werkzeug compiles two Python functions per rule (for ``url_for`` with and without extra
query arguments) when the rule is added, by building and compiling an AST. With a hundred
entities the portal has well over a thousand rules, most of which are never built into a URL
in a given process; compiling their builders was a sixth of the start-up time. Matching
(the rule's regular expression) is still prepared at registration, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A ``werkzeug.routing.Rule`` whose URL builders are compiled when first called."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compile_now = super()._compile_builder
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(compile_now(append_unknown).__get__(rule, None))
            return compiled[0](**values)

        return build
