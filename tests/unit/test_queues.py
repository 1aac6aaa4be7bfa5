"""Which SQS answers say that a received message (or its queue) is gone (deertrack/queues.py message_gone)."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError

from deertrack.queues import message_gone


def _error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "ChangeMessageVisibility")


def test_a_handle_or_queue_sqs_no_longer_has_is_gone() -> None:
    assert message_gone(_error("ReceiptHandleIsInvalid"))  # moto
    assert message_gone(_error("AWS.SimpleQueueService.NonExistentQueue"))
    assert message_gone(_error("QueueDoesNotExist"))
    assert message_gone(_error("InvalidParameterValue", "Value abc for parameter ReceiptHandle is invalid. Reason: "
                                                        "Message does not exist or is not available for visibility "
                                                        "timeout change."))  # AWS, LocalStack


def test_sqs_unreachable_or_another_refusal_is_not_gone() -> None:
    assert not message_gone(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert not message_gone(_error("InvalidParameterValue", "Value 99999 for parameter VisibilityTimeout is invalid"))
    assert not message_gone(_error("AccessDenied"))
