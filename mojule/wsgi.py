"""The WSGI entry point gunicorn serves: ``mojule.wsgi:app``."""
from mojule import create_app

app = create_app()
