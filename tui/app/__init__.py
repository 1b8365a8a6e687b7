"""The Textual app: screens, widgets and styles (no botocore, never the local engine)."""
