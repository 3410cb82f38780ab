"""xlmr_demo web app. Run ``python app.py`` and open http://127.0.0.1:7860 (the Space's entry point too).

The page and its callbacks live in :mod:`xlmr_demo.web`; this file only starts the server.
"""

from xlmr_demo.web import build_app, launch

__all__ = ["build_app", "launch"]

if __name__ == "__main__":
    launch()
