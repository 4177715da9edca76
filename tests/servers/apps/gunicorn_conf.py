"""gunicorn hooks for the server tests (``-c gunicorn_conf.py``); settings come from
the command line. Each worker leaves a ``ready`` mark once its app is loaded and its
key-cache counters when it exits, so a test can check fetches *per worker*."""

from __future__ import annotations

from typing import Any

# The app's modules are imported in the hooks: gunicorn reads this file before it
# changes into the apps folder (--chdir), so they are not importable yet here.


def post_worker_init(worker: Any) -> None:
    from _settings import write_mark

    write_mark("ready", {})


def worker_exit(server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is None:
        return
    from _settings import write_mark

    if getattr(app, "extensions", None) is not None:  # Flask
        from flask_app import key_stats

        write_mark("stats", {"stats": key_stats(app)})
    else:  # Django
        from django_app import key_stats as django_key_stats

        write_mark("stats", {"stats": django_key_stats()})
