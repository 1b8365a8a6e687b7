"""The client layer: aiobotocore clients for CodePipeline, SQS, Logs, CodeBuild and S3 (no Textual)."""
