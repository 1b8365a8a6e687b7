"""The embedded CodePipeline-compatible engine and its AWS-compatible endpoint."""
