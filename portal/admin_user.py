"""Creating the first administrator."""

from __future__ import annotations

from typing import Any


def ensure_admin(appbuilder: Any, username: str, password: str, email: str) -> bool:
    """Create ``username`` with the admin role unless it exists; True if it was created."""
    sm = appbuilder.sm
    if sm.find_user(username=username) is not None:
        return False
    role = sm.find_role(sm.auth_role_admin)
    user = sm.add_user(username=username, first_name=username, last_name="",
                       email=email, role=role, password=password)
    if not user:
        raise RuntimeError(f"could not create the admin user '{username}' (see the log)")
    return True
