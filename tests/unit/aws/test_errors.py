"""aws/errors.py: the one ClientError translator every AWS adapter uses."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import ClientError

from replimend.aws.errors import NOT_FOUND_CODES, error_code, translate_client_error
from replimend.errors import AwsCallError, ConflictError, NotFoundError


def client_error(code: str, message: str = "details", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "AnyOperation",
    )


def test_a_failed_condition_is_a_conflict() -> None:
    error = translate_client_error(client_error("ConditionalCheckFailedException", "nope"), "UpdateItem")
    assert isinstance(error, ConflictError) and "UpdateItem" in str(error)


@pytest.mark.parametrize("code", sorted(NOT_FOUND_CODES))
def test_every_not_found_code_is_not_found(code: str) -> None:
    error = translate_client_error(client_error(code, "gone", 404), "GetObject")
    assert isinstance(error, NotFoundError) and str(error).startswith(f"GetObject: {code}")


def test_anything_else_is_an_aws_call_error_with_operation_code_and_message() -> None:
    error = translate_client_error(client_error("AccessDenied", "no s3:GetObject", 403), "GetObject")
    assert isinstance(error, AwsCallError)
    assert (error.operation, error.code, error.message) == ("GetObject", "AccessDenied", "no s3:GetObject")


def test_a_response_without_a_code() -> None:
    exc = ClientError({"ResponseMetadata": {"HTTPStatusCode": 500}}, "PutObject")
    assert error_code(exc) == ""
    error = translate_client_error(exc, "PutObject")
    assert isinstance(error, AwsCallError) and error.code == "Unknown"


@pytest.mark.parametrize(
    ("service", "shape", "code"),
    [
        ("s3", "NoSuchBucket", "NoSuchBucket"),
        ("s3", "NoSuchKey", "NoSuchKey"),
        ("s3", "NoSuchUpload", "NoSuchUpload"),
        ("s3control", "NotFoundException", "NotFoundException"),
        ("dynamodb", "ResourceNotFoundException", "ResourceNotFoundException"),
        ("dynamodb", "TableNotFoundException", "TableNotFoundException"),
        ("dynamodb", "ConditionalCheckFailedException", "ConditionalCheckFailedException"),
        ("iam", "NoSuchEntityException", "NoSuchEntity"),
    ],
)
def test_the_codes_cited_from_botocore_models_are_modelled_errors(
    service: str, shape: str, code: str
) -> None:
    # Given botocore's service model / Then the shape is an error whose wire code the translator knows
    model = botocore.session.get_session().get_service_model(service)
    error_shape = model.shape_for(shape)
    assert error_shape.metadata.get("exception")
    assert error_shape.metadata.get("error", {}).get("code", shape) == code
    assert code in NOT_FOUND_CODES or code == "ConditionalCheckFailedException"
