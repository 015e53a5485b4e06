"""``make bench``: Mojule's ingest under gunicorn and PostgreSQL, measured against a bare endpoint.

Run it with ``python -m bench`` (``--quick`` for a smoke run, ``--help`` for the knobs).
"""
