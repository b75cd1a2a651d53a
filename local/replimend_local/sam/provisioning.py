"""Resource provisioning: a registry of creators, one per resource type, each creating its resource
in the embedded AWS from the template's resolved properties. A type without a creator is a
TemplateError, never skipped."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from replimend_local.sam.errors import TemplateError
from replimend_local.sam.event_sources import EventSources
from replimend_local.sam.functions import LocalFunction
from replimend_local.sam.template import Resource, as_bool, env_str, table_create_kwargs

log = logging.getLogger("replimend_local.sam")

Creator = Callable[[Any, Resource, dict[str, Any]], None]
#: resource type -> its creator (registered with @creates)
CREATORS: dict[str, Creator] = {}


def creates(*resource_types: str) -> Callable[[Creator], Creator]:
    """Register the decorated method as the creator of ``resource_types``."""

    def register(creator: Creator) -> Creator:
        for resource_type in resource_types:
            CREATORS[resource_type] = creator
        return creator

    return register


class Provisioner(EventSources):
    """Creates the template's resources (dependencies first) through the registry of creators; a
    rule or schedule targeting a function is wired as its event source."""

    def _ensure(self, logical_id: str) -> Resource:
        resource = self.resources.get(logical_id)
        if resource is None:
            implicit = self._implicit_resource(logical_id)
            if implicit is None:
                raise TemplateError(f"unknown resource or parameter {logical_id!r}")
            return implicit
        if resource.status in ("CREATED", "SKIPPED"):
            return resource
        if resource.status == "CREATING":
            raise TemplateError(f"circular reference through {logical_id}")
        resource.status = "CREATING"
        spec = self.template["Resources"][logical_id]
        if "Condition" in spec and not self.resolver.condition(spec["Condition"]):
            resource.status, resource.note = "SKIPPED", "condition is false"
            return resource
        for dependency in self._as_list(spec.get("DependsOn")):
            self._ensure(dependency)
        creator = CREATORS.get(resource.type)
        if creator is None:
            raise TemplateError(
                f"{logical_id}: resource type {resource.type} is not emulated locally "
                f"(emulated: {', '.join(sorted(CREATORS))})"
            )
        properties = self.resolver.resolve(spec.get("Properties") or {})
        creator(self, resource, properties)
        resource.status = "CREATED"
        return resource

    def _implicit_resource(self, logical_id: str) -> Resource | None:
        """SAM's generated resources that templates may reference: <Function>Role, ServerlessHttpApi."""
        if logical_id.endswith("Role") and logical_id[: -len("Role")] in self.resources:
            function_id = logical_id[: -len("Role")]
            if self.resources[function_id].type == "AWS::Serverless::Function":
                self._ensure(function_id)
                return self.resources[logical_id]
        if logical_id in ("ServerlessHttpApi", "ServerlessRestApi"):
            resource = Resource(logical_id, "AWS::Serverless::HttpApi", status="CREATED")
            resource.physical_id = f"{self.stack_name.lower()}-local-api"
            resource.attributes = {"ApiEndpoint": "http://127.0.0.1"}
            self.resources[logical_id] = resource
            return resource
        return None

    def _name(self, logical_id: str, limit: int, *, lower: bool = False, suffix: str = "") -> str:
        name = f"{self.stack_name}-{logical_id}"
        if lower:
            name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
        return name[: limit - len(suffix)] + suffix

    # ---------------------------------------------------------------- resource creators

    @creates("AWS::SQS::Queue")
    def _create_queue(self, resource: Resource, props: dict[str, Any]) -> None:
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        name = props.get("QueueName") or self._name(resource.logical_id, 80, suffix=".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "KmsMasterKeyId",
            "KmsDataKeyReusePeriodSeconds",
            "SqsManagedSseEnabled",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in props:
                attributes[key] = env_str(props[key])
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"
        self._queue_urls_by_arn[arn] = url
        resource.physical_id = url
        resource.attributes = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    @creates("AWS::SQS::QueuePolicy")
    def _create_queue_policy(self, resource: Resource, props: dict[str, Any]) -> None:
        policy = json.dumps(props["PolicyDocument"])
        for url in props.get("Queues", []):
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        resource.physical_id = f"{self.stack_name}-{resource.logical_id}"

    @creates("AWS::CloudWatch::Dashboard")
    def _create_dashboard(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("DashboardName") or self._name(resource.logical_id, 255)
        body = props["DashboardBody"]
        json.loads(body)  # CloudWatch refuses a body that is not JSON (PutDashboard); so does this
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
        resource.physical_id = name

    @creates("AWS::SNS::Topic")
    def _create_topic(self, resource: Resource, props: dict[str, Any]) -> None:
        fifo = str(props.get("FifoTopic", "")).lower() == "true"
        name = props.get("TopicName") or self._name(resource.logical_id, 256, suffix=".fifo" if fifo else "")
        sns = self.client("sns")
        attributes: dict[str, str] = {
            key: env_str(props[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in props
        }
        if fifo:
            attributes["FifoTopic"] = "true"
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        for subscription in props.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        resource.physical_id = arn
        resource.attributes = {"TopicArn": arn, "TopicName": name}

    @creates("AWS::SNS::Subscription")
    def _create_subscription(self, resource: Resource, props: dict[str, Any]) -> None:
        attributes = {}
        if "RawMessageDelivery" in props:
            attributes["RawMessageDelivery"] = env_str(props["RawMessageDelivery"])
        if "FilterPolicy" in props:
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        response = self.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        resource.physical_id = response["SubscriptionArn"]

    @creates("AWS::DynamoDB::Table")
    def _create_table(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("TableName") or self._name(resource.logical_id, 255)
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(**table_create_kwargs(self.template, resource.logical_id, name))
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        described = dynamodb.describe_table(TableName=name)["Table"]
        resource.physical_id = name
        resource.attributes = {"Arn": described["TableArn"]}
        if described.get("LatestStreamArn"):
            resource.attributes["StreamArn"] = described["LatestStreamArn"]

    @creates("AWS::S3::Bucket")
    def _create_bucket(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("BucketName") or self._name(resource.logical_id, 63, lower=True)
        s3 = self.client("s3")
        create: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        if str(props.get("ObjectLockEnabled", "")).lower() == "true":
            create["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**create)
        applied: list[str] = []
        notes: list[str] = []

        def apply(what: str, call: Callable[[], Any]) -> None:
            try:
                call()
                applied.append(what)
            except (ClientError, NotImplementedError) as exc:  # moto lacks some bucket settings
                notes.append(f"{what}: {exc}")

        if versioning := props.get("VersioningConfiguration"):
            apply(
                "versioning",
                lambda: s3.put_bucket_versioning(
                    Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
                ),
            )
        if encryption := props.get("BucketEncryption"):
            apply(
                "encryption",
                lambda: s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            _encryption_rule(rule) for rule in encryption["ServerSideEncryptionConfiguration"]
                        ]
                    },
                ),
            )
        if block := props.get("PublicAccessBlockConfiguration"):
            apply(
                "public access block",
                lambda: s3.put_public_access_block(
                    Bucket=name,
                    PublicAccessBlockConfiguration={k: as_bool(v) for k, v in block.items()},
                ),
            )
        if ownership := props.get("OwnershipControls"):
            apply(
                "ownership controls",
                lambda: s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=ownership),
            )
        if lifecycle := props.get("LifecycleConfiguration"):
            rules = [_lifecycle_rule(rule) for rule in lifecycle.get("Rules", [])]
            apply(
                "lifecycle",
                lambda: s3.put_bucket_lifecycle_configuration(
                    Bucket=name, LifecycleConfiguration={"Rules": rules}
                ),
            )
        if lock := props.get("ObjectLockConfiguration"):
            apply(
                "object lock",
                lambda: s3.put_object_lock_configuration(
                    Bucket=name, ObjectLockConfiguration=_object_lock_configuration(lock)
                ),
            )
        if tags := props.get("Tags"):
            apply("tags", lambda: s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags}))
        if notifications := props.get("NotificationConfiguration"):
            try:
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration=_notification_configuration(notifications)
                )
            except ClientError as exc:
                # S3 validates the destinations on save; CloudFormation fails the bucket then (order the
                # queue policy first with DependsOn)
                raise TemplateError(
                    f"{resource.logical_id}: S3 refused NotificationConfiguration: {exc}"
                ) from exc
            applied.append("notifications")
        resource.physical_id = name
        resource.note = "; ".join(notes)
        resource.attributes = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{self.region}.amazonaws.com",
        }
        if notes:
            log.warning("bucket %s: not applied locally: %s", name, resource.note)

    @creates("AWS::Glue::Database")
    def _create_glue_database(self, resource: Resource, props: dict[str, Any]) -> None:
        database = dict(props["DatabaseInput"])
        database.setdefault("Name", self._name(resource.logical_id, 255, lower=True).replace("-", "_"))
        self.client("glue").create_database(DatabaseInput=database)
        resource.physical_id = database["Name"]

    @creates("AWS::Glue::Table")
    def _create_glue_table(self, resource: Resource, props: dict[str, Any]) -> None:
        table = dict(props["TableInput"])
        table.setdefault("Name", self._name(resource.logical_id, 255, lower=True).replace("-", "_"))
        self.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
        resource.physical_id = table["Name"]

    @creates("AWS::S3::BucketPolicy")
    def _create_bucket_policy(self, resource: Resource, props: dict[str, Any]) -> None:
        self.client("s3").put_bucket_policy(
            Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
        )
        resource.physical_id = f"{self.stack_name}-{resource.logical_id}"

    @creates("AWS::IAM::Role")
    def _create_role(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("RoleName") or self._name(resource.logical_id, 64)
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Description=props.get("Description", ""),
        )["Role"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        for arn in props.get("ManagedPolicyArns", []):
            self._attach_managed_policy(name, arn)
        resource.physical_id = name
        resource.attributes = {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def _attach_managed_policy(self, role_name: str, arn: str) -> None:
        try:
            self.client("iam").attach_role_policy(RoleName=role_name, PolicyArn=arn)
        except ClientError as exc:  # an AWS managed policy moto does not ship
            log.warning("role %s: managed policy %s not attached locally: %s", role_name, arn, exc)

    @creates("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    def _create_iam_policy(self, resource: Resource, props: dict[str, Any]) -> None:
        iam = self.client("iam")
        document = json.dumps(props["PolicyDocument"])
        if resource.type == "AWS::IAM::ManagedPolicy":
            name = props.get("ManagedPolicyName") or self._name(resource.logical_id, 128)
            arn = iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
            for role in props.get("Roles", []):
                iam.attach_role_policy(RoleName=role, PolicyArn=arn)
            resource.physical_id = arn
            resource.attributes = {"PolicyArn": arn, "PolicyName": name}
            return
        name = props["PolicyName"]
        for role in props.get("Roles", []):
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
        resource.physical_id = name

    @creates("AWS::KMS::Key")
    def _create_key(self, resource: Resource, props: dict[str, Any]) -> None:
        kms = self.client("kms")
        kwargs: dict[str, Any] = {"Description": props.get("Description", "")}
        if "KeyPolicy" in props:
            kwargs["Policy"] = json.dumps(props["KeyPolicy"])
        for key in ("KeyUsage", "KeySpec"):
            if key in props:
                kwargs[key] = props[key]
        metadata = kms.create_key(**kwargs)["KeyMetadata"]
        if str(props.get("Enabled", "true")).lower() == "false":
            kms.disable_key(KeyId=metadata["KeyId"])
        if str(props.get("EnableKeyRotation", "")).lower() == "true":
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        resource.physical_id = metadata["KeyId"]
        resource.attributes = {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}

    @creates("AWS::KMS::Alias")
    def _create_alias(self, resource: Resource, props: dict[str, Any]) -> None:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        resource.physical_id = props["AliasName"]

    @creates("AWS::Logs::LogGroup")
    def _create_log_group(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or self._name(resource.logical_id, 512)
        self.client("logs").create_log_group(logGroupName=name)
        resource.physical_id = name
        resource.attributes = {"Arn": f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}:*"}

    @creates("AWS::CloudWatch::Alarm")
    def _create_alarm(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("AlarmName") or self._name(resource.logical_id, 255)
        allowed = {
            "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
            "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
            "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
            "TreatMissingData", "Metrics",
        }  # fmt: skip
        kwargs = {key: value for key, value in props.items() if key in allowed}
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        if "Threshold" in kwargs:
            kwargs["Threshold"] = float(kwargs["Threshold"])
        if "ActionsEnabled" in kwargs:
            kwargs["ActionsEnabled"] = as_bool(kwargs["ActionsEnabled"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
        resource.physical_id = name
        resource.attributes = {"Arn": f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{name}"}

    @creates("AWS::Events::EventBus")
    def _create_event_bus(self, resource: Resource, props: dict[str, Any]) -> None:
        arn = self.client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
        resource.physical_id = props["Name"]
        resource.attributes = {"Arn": arn, "Name": props["Name"]}

    @creates("AWS::Events::Rule")
    def _create_rule(self, resource: Resource, props: dict[str, Any]) -> None:
        """AWS::Events::Rule: pattern rules reach functions through shadow queues, schedules the clock."""
        name = props.get("Name") or self._name(resource.logical_id, 64)
        bus = props.get("EventBusName", "default")
        enabled = props.get("State", "ENABLED") == "ENABLED"
        rule: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            rule["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        arn = self.client("events").put_rule(**rule)["RuleArn"]
        resource.physical_id = name
        resource.attributes = {"Arn": arn}
        passthrough_targets = []
        for target in props.get("Targets", []):
            function_id = self._function_for_arn(target["Arn"])
            if function_id is None:
                passthrough_targets.append(
                    {k: v for k, v in target.items() if k in ("Id", "Arn", "Input", "InputPath")}
                )
                continue
            if "ScheduleExpression" in props:
                self._add_schedule(
                    name,
                    props["ScheduleExpression"],
                    function_id=function_id,
                    rule_arn=arn,
                    input_value=target.get("Input"),
                    enabled=enabled,
                )
            else:
                self._add_rule_source(
                    function_id,
                    name,
                    bus=bus,
                    rule_arn=arn,
                    input_value=target.get("Input"),
                    input_path=target.get("InputPath"),
                )
        if passthrough_targets:
            self.client("events").put_targets(Rule=name, EventBusName=bus, Targets=passthrough_targets)

    @creates("AWS::Scheduler::Schedule")
    def _create_scheduler_schedule(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("Name") or self._name(resource.logical_id, 64)
        target = props["Target"]
        self.client("scheduler").create_schedule(
            Name=name,
            ScheduleExpression=props["ScheduleExpression"],
            FlexibleTimeWindow=props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            Target={key: target[key] for key in ("Arn", "RoleArn", "Input") if key in target},
            State=props.get("State", "ENABLED"),
        )
        resource.physical_id = name
        resource.attributes = {
            "Arn": f"arn:aws:scheduler:{self.region}:{self.account_id}:schedule/default/{name}"
        }
        function_id = self._function_for_arn(target["Arn"])
        if function_id is None:
            resource.note = "target is not a function of this stack: stored, never fired locally"
            return
        self._add_schedule(
            name,
            props["ScheduleExpression"],
            function_id=function_id,
            rule_arn=None,
            input_value=target.get("Input"),
            enabled=props.get("State", "ENABLED") == "ENABLED",
        )

    @creates("AWS::Serverless::Function")
    def _create_function(self, resource: Resource, props: dict[str, Any]) -> None:
        logical_id = resource.logical_id
        merged = self._with_globals(logical_id)
        name = merged.get("FunctionName") or self._name(logical_id, 64)
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        resource.physical_id = name
        resource.attributes = {"Arn": arn}
        self._create_function_role(logical_id, merged)
        environment = {
            key: env_str(value)
            for key, value in (merged.get("Environment", {}).get("Variables") or {}).items()
        }
        code_uri = merged.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local path to run locally")
        self.functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=arn,
            code_dir=(self.template_dir / code_uri).resolve(),
            handler=merged["Handler"],
            environment=environment,
            memory_mb=int(merged.get("MemorySize", 128)),
            timeout_seconds=int(merged.get("Timeout", 3)),
        )

    def _with_globals(self, logical_id: str) -> dict[str, Any]:
        """The function's properties with Globals.Function merged in (SAM's rules), resolved."""
        spec = self.template["Resources"][logical_id].get("Properties") or {}
        global_spec = (self.template.get("Globals") or {}).get("Function") or {}
        merged: dict[str, Any] = {**global_spec, **spec}
        global_variables = (global_spec.get("Environment") or {}).get("Variables") or {}
        own_variables = (spec.get("Environment") or {}).get("Variables") or {}
        merged["Environment"] = {"Variables": {**global_variables, **own_variables}}
        resolved: dict[str, Any] = self.resolver.resolve({k: v for k, v in merged.items() if k != "Events"})
        resolved["Events"] = spec.get("Events") or {}
        return resolved

    def _create_function_role(self, logical_id: str, props: dict[str, Any]) -> None:
        """SAM's implicit <Function>Role with the function's inline policy statements."""
        role_id = f"{logical_id}Role"
        if role_id in self.resources:  # declared explicitly: the template's own resource
            return
        role = Resource(role_id, "AWS::IAM::Role", status="CREATED", note="SAM implicit function role")
        self.resources[role_id] = role
        if props.get("Role"):
            role.physical_id = str(props["Role"]).rsplit("/", 1)[-1]
            role.attributes = {"Arn": props["Role"]}
            return
        name = self._name(role_id, 64)
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        skipped_templates: list[str] = []
        for index, policy in enumerate(self._as_list(props.get("Policies"))):
            if isinstance(policy, str):
                arn = policy if policy.startswith("arn:") else f"arn:aws:iam::aws:policy/{policy}"
                self._attach_managed_policy(name, arn)
            elif isinstance(policy, dict) and "Statement" in policy:
                document = {"Version": policy.get("Version", "2012-10-17"), "Statement": policy["Statement"]}
                iam.put_role_policy(
                    RoleName=name,
                    PolicyName=f"{logical_id}Policy{index}",
                    PolicyDocument=json.dumps(document),
                )
            elif isinstance(policy, dict):
                skipped_templates.extend(policy)  # SAM policy templates are not expanded locally
        role.physical_id = name
        role.attributes = {"Arn": created["Arn"], "RoleId": created["RoleId"]}
        if skipped_templates:
            role.note = f"SAM policy templates not expanded: {', '.join(skipped_templates)}"

    @creates("AWS::Serverless::HttpApi", "AWS::Serverless::Api")
    def _create_http_api(self, resource: Resource, props: dict[str, Any]) -> None:
        resource.physical_id = self._name(resource.logical_id, 64, lower=True)
        resource.attributes = {"ApiEndpoint": "http://127.0.0.1", "ApiId": resource.physical_id}

    @creates("AWS::Lambda::Permission", "AWS::SNS::TopicPolicy")
    def _create_noop(self, resource: Resource, props: dict[str, Any]) -> None:
        resource.physical_id = f"{self.stack_name}-{resource.logical_id}"

    @creates("AWS::Serverless::LayerVersion")
    def _create_layer(self, resource: Resource, props: dict[str, Any]) -> None:
        # The layer's package is importable from the development install; only its ARN matters here.
        name = props.get("LayerName") or self._name(resource.logical_id, 140)
        resource.physical_id = f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:1"
        resource.note = "code served from the development install"

    @creates("AWS::Lambda::EventSourceMapping")
    def _create_event_source_mapping(self, resource: Resource, props: dict[str, Any]) -> None:
        resource.physical_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{resource.logical_id}"))


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation bucket encryption rule in the S3 API's shape."""
    api: dict[str, Any] = {}
    if "ServerSideEncryptionByDefault" in rule:
        api["ApplyServerSideEncryptionByDefault"] = dict(rule["ServerSideEncryptionByDefault"])
    if "BucketKeyEnabled" in rule:
        api["BucketKeyEnabled"] = as_bool(rule["BucketKeyEnabled"])
    return api


def _object_lock_configuration(lock: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation ObjectLockConfiguration in the S3 API's shape (periods are numbers there)."""
    api: dict[str, Any] = {"ObjectLockEnabled": lock.get("ObjectLockEnabled", "Enabled")}
    retention = (lock.get("Rule") or {}).get("DefaultRetention")
    if retention:
        api["Rule"] = {
            "DefaultRetention": {
                key: int(value) if key in ("Days", "Years") else value for key, value in retention.items()
            }
        }
    return api


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape."""
    api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
    api["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpirationInDays" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "Transitions" in rule:
        api["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
        ]
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    if "ExpiredObjectDeleteMarker" in rule:
        api.setdefault("Expiration", {})["ExpiredObjectDeleteMarker"] = as_bool(
            rule["ExpiredObjectDeleteMarker"]
        )
    return api


def _notification_configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation NotificationConfiguration in the S3 API's shape (queues and topics)."""

    def filters(item: Mapping[str, Any]) -> dict[str, Any]:
        rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        return {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}

    api: dict[str, Any] = {}
    queues = config.get("QueueConfigurations") or []
    topics = config.get("TopicConfigurations") or []
    if queues:
        api["QueueConfigurations"] = [
            {"QueueArn": q["Queue"], "Events": [q["Event"]], **filters(q)} for q in queues
        ]
    if topics:
        api["TopicConfigurations"] = [
            {"TopicArn": t["Topic"], "Events": [t["Event"]], **filters(t)} for t in topics
        ]
    if config.get("EventBridgeConfiguration") is not None:
        api["EventBridgeConfiguration"] = {}
    return api
