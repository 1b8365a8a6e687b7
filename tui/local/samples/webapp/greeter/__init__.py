"""A tiny web greeting service: the demo pipelines build, test and deploy it."""

from __future__ import annotations

import html

__version__ = "1.4.2"


def greet(name: str) -> str:
    cleaned = " ".join(name.split()) or "world"
    return f"Hello, {cleaned}!"


def page(name: str) -> str:
    heading = html.escape(greet(name))
    return f"<!doctype html><title>greeter {__version__}</title><h1>{heading}</h1>\n"
