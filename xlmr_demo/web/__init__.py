"""The web app (``python app.py``): the page over callbacks that take and return plain data.

:mod:`.page` builds the page, one function per tab; :mod:`.callbacks` and :mod:`.training` are the
callbacks; :mod:`.runner` runs each visitor's one job at a time.

Heavy imports (torch, transformers, umap) load in a background thread after the page is up, so the app
starts in seconds. Each browser or API session has its own data, classifier and files on the server
(:mod:`xlmr_demo.sessions`), runs one job at a time, and can stop it. Uploads are read and then deleted
(after a grace of seconds, :mod:`.uploads`); files handed out (a classifier .zip, predictions) live in
Gradio's cache and go with the session. With ``XLMR_DEMO_PUBLIC=1``, or on a Hugging Face Space, the
app runs in public mode (:mod:`xlmr_demo.limits`): models from an allow-list only, a time limit per
job, messages without server paths, and :mod:`xlmr_demo.guard` in front of Gradio (:mod:`.server`).
"""

from .page import build_app
from .server import launch

__all__ = ["build_app", "launch"]
