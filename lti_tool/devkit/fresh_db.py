"""A new, migrated database on a (private) PostgreSQL server, for benchmarks that each want
to start from the same empty state."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from lti_tool.core.db.migrate import upgrade


def fresh_database(base_url: str, prefix: str = "bench") -> str:
    """Create a database named `prefix`_<random> on `base_url`'s server, migrate it, and
    return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url
