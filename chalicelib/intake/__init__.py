"""Event intake: typed events (``events.py``), once-only processing and dispatch to the capabilities that take
them (``pipeline.py``: ``entry``, ``handle``), and the EventBridge patterns of app.py (``patterns.py``)."""
