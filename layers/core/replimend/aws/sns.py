"""SNS adapter: incident alerts published to replimend's AlertTopic (``ports.Notifier``).

Subject at most 100 ASCII characters, message under 256 KB (botocore sns model, PublishInput).
ClientError goes through ``aws.errors``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from replimend.aws.errors import translate_client_error


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, subject: str, message: str) -> None:
        try:
            self._client.publish(TopicArn=self._topic_arn, Subject=subject, Message=message)
        except ClientError as exc:
            raise translate_client_error(exc, "Publish") from exc
