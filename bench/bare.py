"""The benchmark's yardstick: a Flask app that only reads and parses the body, then answers 202.

gunicorn serves it with Mojule's own settings (``gunicorn -c gunicorn.conf.py bench.bare:app``),
so the difference between the two is what Mojule does with a request beyond the HTTP
round trip and the JSON parse.
"""
from __future__ import annotations

import orjson
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    """The readiness probe the benchmark polls."""
    return jsonify({"status": "ok"})


@app.post("/v1/logs")
def ingest_logs():
    """Parse the export request and accept it without looking inside."""
    orjson.loads(request.get_data())
    return jsonify({"accepted": True}), 202
