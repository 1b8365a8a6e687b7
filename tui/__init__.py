"""pipetop: a terminal UI for AWS CodePipeline and an embedded CodePipeline-compatible engine."""

__version__ = "0.1.0"
