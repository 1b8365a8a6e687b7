"""`pipetop approve` and `pipetop watch`: the controls for scripts and CI, in plain text.

They use the client layer (`tui.aws`) only, never Textual: they run where no terminal UI can.
Exit codes are shared and listed in `script.py`.
"""
