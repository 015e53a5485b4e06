"""A migration that has landed is never edited.

``mojule init-db`` applies a migration once, by its number: an installation that ran an
earlier text of it never runs the new one, and its schema silently differs from a fresh
install's (an operator's review found this of migrations edited within a stop). A change
is a new migration. The digests of the migrations are pinned in
``fixtures/released_migrations.sha256``; add a new migration's line in its commit.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from mojule import schema

PINNED = Path(__file__).parent / "fixtures" / "released_migrations.sha256"


def pinned_digests() -> dict[str, str]:
    """File name to sha256, from the ``sha256sum`` lines of PINNED."""
    return {name: digest for digest, name in
            (line.split() for line in PINNED.read_text().splitlines() if line.strip())}


def test_no_pinned_migration_was_edited_and_every_migration_is_pinned():
    shipped = {migration.path.name: hashlib.sha256(migration.path.read_bytes()).hexdigest()
               for migration in schema.available_migrations()}
    pinned = pinned_digests()
    assert shipped, "no migrations found"

    edited = sorted(name for name, digest in pinned.items() if shipped.get(name) != digest)
    unpinned = sorted(set(shipped) - set(pinned))

    assert not edited, (f"{edited} changed after they were pinned: installations that ran "
                        "them will not run them again; write a new migration instead")
    assert not unpinned, (f"pin {unpinned}: (cd sql/migrations && sha256sum NAME) >> {PINNED}")
