"""Action providers: one module each, all behind the `ActionProvider` protocol in `job.py`."""
