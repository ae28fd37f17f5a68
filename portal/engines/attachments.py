"""Attachment storage: files under the instance folder, described by ``Attachment`` rows."""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from pathlib import Path
from typing import BinaryIO, Optional

from portal.system_models import Attachment, utcnow


class AttachmentTooLarge(ValueError):
    """The upload is larger than the configured limit."""


def store_file(root: Path, stream: BinaryIO, filename: str, content_type: Optional[str],
               entity: str, field: str, user_id: Optional[int], max_bytes: int) -> Attachment:
    """Write ``stream`` under ``root`` and return an unsaved ``Attachment`` describing it.

    The bytes go to a temporary name first and are renamed into place only when complete,
    so a failed upload leaves no partial file.
    """
    now = utcnow()
    key = f"{now:%Y/%m}/{uuid.uuid4().hex}"
    target = root / key
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    digest, size = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise AttachmentTooLarge(f"the file is larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    safe_name = Path(filename.replace("\\", "/")).name or "file"
    guessed = content_type or mimetypes.guess_type(safe_name)[0] or "application/octet-stream"
    return Attachment(storage_key=key, filename=safe_name[:255], content_type=guessed[:127],
                      size=size, sha256=digest.hexdigest(), uploaded_at=now,
                      uploaded_by_id=user_id, entity=entity, field=field)


def file_path(root: Path, attachment: Attachment) -> Path:
    """Where the bytes of ``attachment`` are stored."""
    return root / attachment.storage_key
