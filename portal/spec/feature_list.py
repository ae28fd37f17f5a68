"""The list of entity features (see :mod:`portal.spec.features`): one line per feature."""

from __future__ import annotations

from portal.spec import (
    agenda,
    board,
    checks,
    computed,
    highlight,
    overview,
    presets,
    public_form,
    record_defaults,
    text_links,
    timeline,
)
from portal.spec.features import Feature

#: Every entity feature, in compile order. Add a feature's ``FEATURE`` here.
FEATURES: tuple[Feature, ...] = (
    checks.FEATURE,
    board.FEATURE,
    overview.FEATURE,
    timeline.FEATURE,
    agenda.FEATURE,
    public_form.FEATURE,
    highlight.FEATURE,
    presets.FEATURE,
    text_links.FEATURE,
    record_defaults.FEATURE,
    computed.FEATURE,
)
