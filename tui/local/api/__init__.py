"""The AWS-compatible HTTP endpoint: wire protocols only; state lives in `tui.local.engine`."""
