"""Database schema and sessions, shared by the web app and the workers (never imports torch)."""

from lti_tool.core.db.models import Base
from lti_tool.core.db.session import Database

__all__ = ["Base", "Database"]
