"""Portal configuration: defaults, each overridable from the environment (``PORTAL_*``).

``portal.settings.load_config`` reads this module and applies the environment; nothing else
should read ``os.environ`` for settings.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

#: Where files the portal writes live: the SQLite database, uploaded attachments.
INSTANCE_DIR = Path(os.environ.get("PORTAL_INSTANCE_DIR", BASE_DIR / "instance"))
#: SQLAlchemy URL. Default: a SQLite file under the instance folder.
DATABASE_URL = os.environ.get("PORTAL_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'portal.db'}")
#: The folder of YAML definitions compiled at startup.
SCHEMA_DIR = Path(os.environ.get("PORTAL_SCHEMA_DIR", BASE_DIR / "schemas"))
#: Required outside debug mode; the portal refuses to start without it.
SECRET_KEY = os.environ.get("PORTAL_SECRET_KEY", "")
#: Debug mode allows a generated throw-away secret key and the development server.
DEBUG = os.environ.get("PORTAL_DEBUG", "0").lower() in {"1", "true", "yes"}
#: UI language for users who have not chosen one: en, zh_CN or zh_TW.
DEFAULT_LOCALE = os.environ.get("PORTAL_DEFAULT_LOCALE", "en")
#: Login attempts allowed per client address, in Flask-Limiter's notation.
LOGIN_RATE_LIMIT = os.environ.get("PORTAL_LOGIN_RATE_LIMIT", "10 per minute")
#: Where rate-limit counters live ("memory://" for one process; a redis:// URL for several).
RATELIMIT_STORAGE_URI = os.environ.get("PORTAL_RATELIMIT_STORAGE_URI", "memory://")
#: Public forms (web-to-lead): a post sent sooner than this many seconds after the page was
#: loaded is taken for a bot's, answered like a success and not saved.
PUBLIC_FORM_MIN_SECONDS = float(os.environ.get("PORTAL_PUBLIC_FORM_MIN_SECONDS", "3"))
#: Largest attachment accepted, in bytes.
MAX_UPLOAD_BYTES = int(os.environ.get("PORTAL_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
#: Name shown in the navigation bar.
APP_NAME = os.environ.get("PORTAL_APP_NAME", "CRM Portal")
#: When the database is behind the YAML at start-up: "off" refuses to start and prints the
#: command to run; "safe" applies safe changes (new entities, optional fields, indexes,
#: longer strings, new enum values) by itself and still refuses on anything else.
AUTO_MIGRATE = os.environ.get("PORTAL_AUTO_MIGRATE", "off")

# Email for notifications (approvals, decisions, ``notify`` effects). Off while SMTP_HOST is
# empty; ``portal mail --test ADDRESS`` checks the settings, ``portal mail --retry`` re-sends.
#: SMTP server; empty means notifications stay in the in-app inbox only.
SMTP_HOST = os.environ.get("PORTAL_SMTP_HOST", "")
#: SMTP port: 25 (plain), 587 (with PORTAL_SMTP_STARTTLS), 465 (with PORTAL_SMTP_SSL).
SMTP_PORT = os.environ.get("PORTAL_SMTP_PORT", "25")
#: Login name for the SMTP server; empty means no login.
SMTP_USERNAME = os.environ.get("PORTAL_SMTP_USERNAME", "")
#: Password for PORTAL_SMTP_USERNAME.
SMTP_PASSWORD = os.environ.get("PORTAL_SMTP_PASSWORD", "")
#: Upgrade the connection with STARTTLS (usually port 587).
SMTP_STARTTLS = os.environ.get("PORTAL_SMTP_STARTTLS", "0").lower() in {"1", "true", "yes"}
#: Connect with implicit TLS (usually port 465).
SMTP_SSL = os.environ.get("PORTAL_SMTP_SSL", "0").lower() in {"1", "true", "yes"}
#: The From of the emails.
MAIL_SENDER = os.environ.get("PORTAL_MAIL_SENDER", "CRM Portal <portal@localhost>")
#: Seconds to wait for the SMTP server before the email counts as failed.
SMTP_TIMEOUT = os.environ.get("PORTAL_SMTP_TIMEOUT", "10")
#: The portal's address as users reach it (e.g. https://crm.example.com), for links in emails;
#: empty means the address of the request that caused the email.
BASE_URL = os.environ.get("PORTAL_BASE_URL", "")
