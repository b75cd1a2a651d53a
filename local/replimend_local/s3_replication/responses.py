"""Replication on the API: the botocore hooks that trigger it after object writes, add
ReplicationStatus to reads and keep faithful replication configurations."""

from __future__ import annotations

import logging
from typing import Any

from replimend_local import hooks
from replimend_local.s3_replication.engine import ReplicationBackend

logger = logging.getLogger(__name__)


class ReplicationEngine(ReplicationBackend):
    """S3 live replication of the embedded account (the backend plus the hooks that drive it)."""

    def handlers(self) -> list[hooks.Hook]:
        """Hooks to install (hooks.install/install_default/install_global) so hooked clients
        trigger replication and see ReplicationStatus and faithful replication configurations."""
        hook_list = [hooks.capture_params("s3")]
        for operation in ("PutObject", "CopyObject", "CompleteMultipartUpload"):
            hook_list.append(
                hooks.Hook(f"after-call.s3.{operation}", self._after_write, f"replication.write.{operation}")
            )
        for operation in ("HeadObject", "GetObject"):
            hook_list.append(
                hooks.Hook(f"after-call.s3.{operation}", self._after_read, f"replication.status.{operation}")
            )
        hook_list += [
            hooks.Hook(
                "after-call.s3.PutBucketReplication", self._after_put_configuration, "replication.config.put"
            ),
            hooks.Hook(
                "after-call.s3.DeleteBucketReplication",
                self._after_delete_configuration,
                "replication.config.delete",
            ),
            hooks.Hook(
                "after-call.s3.GetBucketReplication", self._after_get_configuration, "replication.config.get"
            ),
        ]
        return hook_list

    # --- hooks ---------------------------------------------------------------------------------

    def _record_error(self, what: str) -> None:
        logger.exception("replication emulator failed while %s", what)
        with self._state.lock:
            self._state.errors.append(what)

    def _after_write(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if http_response.status_code >= 300 or not parsed.get("VersionId"):
            return
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        bucket, key = params.get("Bucket"), params.get("Key")
        if not bucket or not key or parsed["VersionId"] == "null":
            return
        try:
            self.replicate_version(str(bucket), str(key), str(parsed["VersionId"]), trigger="live")
        except Exception:
            self._record_error(f"replicating s3://{bucket}/{key}?versionId={parsed['VersionId']}")

    def _after_read(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if http_response.status_code >= 300:
            return
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        version_id = parsed.get("VersionId") or params.get("VersionId")
        if not params.get("Bucket") or not params.get("Key") or not version_id:
            return
        status = self.replication_status(str(params["Bucket"]), str(params["Key"]), str(version_id))
        if status is not None:
            parsed["ReplicationStatus"] = status
            parsed.get("ResponseMetadata", {}).get("HTTPHeaders", {})["x-amz-replication-status"] = status

    def _after_put_configuration(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        if (
            http_response.status_code < 300
            and params.get("Bucket")
            and params.get("ReplicationConfiguration")
        ):
            self.record_configuration(str(params["Bucket"]), params["ReplicationConfiguration"])

    def _after_delete_configuration(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        if http_response.status_code < 300 and params.get("Bucket"):
            self.forget_configuration(str(params["Bucket"]))

    def _after_get_configuration(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        params = context.get(hooks.PARAMS_CONTEXT_KEY) or {}
        moto_view = parsed.get("ReplicationConfiguration")
        if http_response.status_code >= 300 or not moto_view or not params.get("Bucket"):
            return
        parsed["ReplicationConfiguration"] = self.faithful_configuration(str(params["Bucket"]), moto_view)
