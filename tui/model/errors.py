"""Typed AWS errors.

Every layer raises these; exactly one place per wire protocol turns them into a response
(`{"__type": code, "message": ...}` for the JSON protocols, an XML `<Error>` for S3).
The class name is the AWS error code, so boto3 raises `client.exceptions.<Name>` for it.
"""

from __future__ import annotations


class AwsError(Exception):
    """An error AWS would return: `code` is the `__type`, `status` the HTTP status.

    Subclasses fix both; a one-off code (another service's error) is passed in.
    """

    code: str = "InternalFailure"
    status: int = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationException(AwsError):
    code = "ValidationException"


class ThrottlingException(AwsError):
    code = "ThrottlingException"


class UnknownOperationException(AwsError):
    code = "UnknownOperationException"


class SerializationException(AwsError):
    code = "SerializationException"


# CodePipeline's modelled errors (botocore `codepipeline` service model).
class ActionExecutionNotFoundException(AwsError):
    code = "ActionExecutionNotFoundException"


class ActionNotFoundException(AwsError):
    code = "ActionNotFoundException"


class ActionTypeAlreadyExistsException(AwsError):
    code = "ActionTypeAlreadyExistsException"


class ActionTypeNotFoundException(AwsError):
    code = "ActionTypeNotFoundException"


class ApprovalAlreadyCompletedException(AwsError):
    code = "ApprovalAlreadyCompletedException"


class ConcurrentModificationException(AwsError):
    code = "ConcurrentModificationException"


class ConcurrentPipelineExecutionsLimitExceededException(AwsError):
    code = "ConcurrentPipelineExecutionsLimitExceededException"


class ConditionNotOverridableException(AwsError):
    code = "ConditionNotOverridableException"


class ConflictException(AwsError):
    code = "ConflictException"
    status = 409


class DuplicatedStopRequestException(AwsError):
    code = "DuplicatedStopRequestException"


class InvalidActionDeclarationException(AwsError):
    code = "InvalidActionDeclarationException"


class InvalidApprovalTokenException(AwsError):
    code = "InvalidApprovalTokenException"


class InvalidArnException(AwsError):
    code = "InvalidArnException"


class InvalidBlockerDeclarationException(AwsError):
    code = "InvalidBlockerDeclarationException"


class InvalidClientTokenException(AwsError):
    code = "InvalidClientTokenException"


class InvalidJobException(AwsError):
    code = "InvalidJobException"


class InvalidJobStateException(AwsError):
    code = "InvalidJobStateException"


class InvalidNextTokenException(AwsError):
    code = "InvalidNextTokenException"


class InvalidNonceException(AwsError):
    code = "InvalidNonceException"


class InvalidStageDeclarationException(AwsError):
    code = "InvalidStageDeclarationException"


class InvalidStructureException(AwsError):
    code = "InvalidStructureException"


class InvalidTagsException(AwsError):
    code = "InvalidTagsException"


class JobNotFoundException(AwsError):
    code = "JobNotFoundException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


class NotLatestPipelineExecutionException(AwsError):
    code = "NotLatestPipelineExecutionException"


class OutputVariablesSizeExceededException(AwsError):
    code = "OutputVariablesSizeExceededException"


class PipelineExecutionNotFoundException(AwsError):
    code = "PipelineExecutionNotFoundException"


class PipelineExecutionNotStoppableException(AwsError):
    code = "PipelineExecutionNotStoppableException"


class PipelineExecutionOutdatedException(AwsError):
    code = "PipelineExecutionOutdatedException"


class PipelineNameInUseException(AwsError):
    code = "PipelineNameInUseException"


class PipelineNotFoundException(AwsError):
    code = "PipelineNotFoundException"


class PipelineVersionNotFoundException(AwsError):
    code = "PipelineVersionNotFoundException"


class RequestFailedException(AwsError):
    code = "RequestFailedException"


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class StageNotFoundException(AwsError):
    code = "StageNotFoundException"


class StageNotRetryableException(AwsError):
    code = "StageNotRetryableException"


class TooManyTagsException(AwsError):
    code = "TooManyTagsException"


class UnableToRollbackStageException(AwsError):
    code = "UnableToRollbackStageException"


class WebhookNotFoundException(AwsError):
    code = "WebhookNotFoundException"
