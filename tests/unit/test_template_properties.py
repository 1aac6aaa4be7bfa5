"""What template.yaml promises about AWS: names by stage, queue timing and redrive, private encrypted
buckets, data stores reachable only from the functions and the batch jobs, least-privilege IAM, GPU
batch that scales to zero, settings the code really reads, and outputs.
"""

from __future__ import annotations

from typing import Any

import pytest

from deertrack.settings import Settings
from infra.template import declarations, load_template, logical_target

Template = dict[str, Any]


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {k: r.get("Properties", {}) for k, r in template["Resources"].items() if r["Type"] == kind}


def statements(policies: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
        elif isinstance(policy, dict) and "PolicyDocument" in policy:
            found += policy["PolicyDocument"]["Statement"]
    return found


def function_timeout(template: Template, logical_id: str) -> int:
    props = template["Resources"][logical_id]["Properties"]
    return int(props.get("Timeout", template["Globals"]["Function"]["Timeout"]))


# ------------------------------------------------------------------------------------------ names


def test_every_named_resource_carries_the_stage(template: Template) -> None:
    name_keys = ("QueueName", "BucketName", "LayerName", "JobQueueName", "JobDefinitionName", "RepositoryName",
                 "FunctionName", "ClusterName", "Family", "LogGroupName", "Name")
    for logical_id, resource in template["Resources"].items():
        for key in name_keys:
            value = resource.get("Properties", {}).get(key)
            if isinstance(value, dict) and "Fn::Sub" in value:
                assert "${Stage}" in str(value["Fn::Sub"]) or "Function}" in str(value["Fn::Sub"]), logical_id
            elif isinstance(value, str) and resource["Type"] != "AWS::CloudFormation::Interface":
                pytest.fail(f"{logical_id}.{key} is the fixed name {value!r}; two stages would collide")


def test_declarations_follow_the_stage_parameter() -> None:
    prod = declarations("prod")
    assert {q.name for q in prod.queues.values()} >= {"deertrack-prod-exports", "deertrack-prod-reid"}
    assert all(q.name.startswith("deertrack-prod-") for q in prod.queues.values())
    assert all(b.name.startswith("deertrack-prod-") for b in prod.buckets.values())


# ------------------------------------------------------------------------------------------ queues


def test_lambda_fed_queues_hide_messages_six_times_longer_than_their_function_runs(template: Template) -> None:
    decl = declarations("test")
    fed = [h for h in decl.handlers.values() if h.queue]
    assert fed
    for handler in fed:
        visibility = int(decl.queues[handler.queue].attributes.get("VisibilityTimeout", 30))
        timeout = function_timeout(template, handler.logical_id)
        assert visibility >= 6 * timeout, f"{handler.queue}: {visibility} s < 6 x {timeout} s ({handler.logical_id})"


def test_batch_fed_queues_give_a_dead_workers_message_back_within_a_minute(template: Template) -> None:
    decl = declarations("test")
    lambda_fed = {h.queue for h in decl.handlers.values() if h.queue}
    for job in resources(template, "AWS::Batch::JobDefinition").values():
        env = {e["Name"]: e["Value"] for e in job["ContainerProperties"]["Environment"] if "Name" in e}
        worker = job["ContainerProperties"]["Command"][0]
        queue_id = logical_target(env[f"{worker.upper()}_QUEUE_NAME"])
        assert queue_id not in lambda_fed
        # short: the worker extends the message in hand on a heartbeat every third of it
        # (gpu_batch/visibility.py), so a killed worker's message is back within a minute
        timeout = int(decl.queues[queue_id].attributes["VisibilityTimeout"])
        assert 3 * 5 <= timeout <= 60


def test_every_work_queue_has_a_dead_letter_queue_that_outlives_it(template: Template) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_ids = {logical_target(p["RedrivePolicy"]["deadLetterTargetArn"]) for p in queues.values()
                       if "RedrivePolicy" in p}
    for logical_id, props in queues.items():
        assert props.get("SqsManagedSseEnabled") is True, logical_id
        if logical_id in dead_letter_ids:
            continue
        redrive = props.get("RedrivePolicy")
        assert redrive, f"{logical_id} has no dead-letter queue"
        assert 1 <= int(redrive["maxReceiveCount"]) <= 5
        dlq = queues[logical_target(redrive["deadLetterTargetArn"])]
        assert int(dlq["MessageRetentionPeriod"]) > int(props.get("MessageRetentionPeriod", 345600))


def test_every_dead_letter_queue_has_an_alarm_naming_it_and_the_sweep_reads_it(template: Template) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_ids = {logical_target(p["RedrivePolicy"]["deadLetterTargetArn"]) for p in queues.values()
                       if "RedrivePolicy" in p}
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    watched: dict[str, dict[str, Any]] = {}
    for props in alarms.values():
        for dimension in props.get("Dimensions", []):
            if dimension["Name"] == "QueueName":
                watched[logical_target(dimension["Value"])] = props
    assert dead_letter_ids <= set(watched), f"dead-letter queues without an alarm: {dead_letter_ids - set(watched)}"
    sweep = template["Resources"]["DeadLetterSweepFunction"]["Properties"]
    readable = {logical_target(r) for s in statements(sweep["Policies"]) if "sqs:ReceiveMessage" in s["Action"]
                for r in s["Resource"]}
    for logical_id in dead_letter_ids:
        short = queues[logical_id]["QueueName"]["Fn::Sub"].split("${Stage}-", 1)[1]  # e.g. image-events-dlq
        alarm = watched[logical_id]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Threshold"] == 0
        assert short in alarm["AlarmName"]["Fn::Sub"], alarm["AlarmName"]
        assert short.removesuffix("-dlq") in alarm["AlarmDescription"], alarm["AlarmDescription"]
        assert logical_id in readable, f"the dead-letter sweep cannot read {logical_id}"


# ------------------------------------------------------------------------------------------ buckets


def test_buckets_are_private_encrypted_and_tls_only(template: Template) -> None:
    policies = resources(template, "AWS::S3::BucketPolicy")
    for logical_id, props in resources(template, "AWS::S3::Bucket").items():
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, logical_id
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
        assert props["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
        tls = [p for p in policies.values() if logical_target(p["Bucket"]) == logical_id]
        assert tls and tls[0]["PolicyDocument"]["Statement"][0]["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}}, logical_id


def test_exports_expire_by_lifecycle_rule(template: Template) -> None:
    rules = resources(template, "AWS::S3::Bucket")["ExportsBucket"]["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert expiring == [{"Id": "expire-exports", "Status": "Enabled", "Prefix": "exports/",
                         "ExpirationInDays": {"Ref": "ExportsRetentionDays"}}]


def test_bucket_notifications_reach_their_queues() -> None:
    decl = declarations("test")
    assert decl.buckets["RequestsBucket"].queue_notifications == [
        ("s3:ObjectCreated:*", "ExportRequestsQueue", "export-requests/", ".json")]
    assert decl.buckets["ImagesBucket"].queue_notifications == [
        ("s3:ObjectCreated:*", "ImageEventsQueue", "detections/", ".json")]


# ------------------------------------------------------------------------------------------ network


def test_redis_and_postgres_live_in_private_subnets_and_admit_only_functions_and_jobs(template: Template) -> None:
    private = {"PrivateSubnetA", "PrivateSubnetB"}
    groups = resources(template, "AWS::EC2::SecurityGroup")
    redis = resources(template, "AWS::ElastiCache::ReplicationGroup")["Redis"]
    database = resources(template, "AWS::RDS::DBInstance")["Database"]
    assert {logical_target(s) for s in resources(template, "AWS::ElastiCache::SubnetGroup")["RedisSubnetGroup"]
            ["SubnetIds"]} == private
    assert {logical_target(s) for s in resources(template, "AWS::RDS::DBSubnetGroup")["DatabaseSubnetGroup"]
            ["SubnetIds"]} == private
    for group_ids, port in ((redis["SecurityGroupIds"], 6379), (database["VPCSecurityGroups"], 5432)):
        for group_id in group_ids:
            ingress = groups[logical_target(group_id)]["SecurityGroupIngress"]
            assert {logical_target(rule["SourceSecurityGroupId"]) for rule in ingress} == {
                "FunctionSecurityGroup", "BatchSecurityGroup"}
            assert all("CidrIp" not in rule and rule["FromPort"] == rule["ToPort"] == port for rule in ingress)
    assert database["PubliclyAccessible"] is False and database["StorageEncrypted"] is True
    assert redis["AtRestEncryptionEnabled"] is True and redis["TransitEncryptionEnabled"] is True
    # The functions and the batch jobs sit in those private subnets behind their own groups.
    vpc = template["Globals"]["Function"]["VpcConfig"]
    assert {logical_target(s) for s in vpc["SubnetIds"]} == private
    assert [logical_target(g) for g in vpc["SecurityGroupIds"]] == ["FunctionSecurityGroup"]
    for environment in resources(template, "AWS::Batch::ComputeEnvironment").values():
        compute = environment["ComputeResources"]
        assert {logical_target(s) for s in compute["Subnets"]} == private
        assert [logical_target(g) for g in compute["SecurityGroupIds"]] == ["BatchSecurityGroup"]
    routes = resources(template, "AWS::EC2::Route")
    assert "NatGatewayId" in routes["PrivateDefaultRoute"] and "GatewayId" not in routes["PrivateDefaultRoute"]


def test_database_is_deer_tracking_owned_by_deertrack_with_a_secret_password(template: Template) -> None:
    database = resources(template, "AWS::RDS::DBInstance")["Database"]
    assert database["DBName"] == "deer_tracking" and database["MasterUsername"] == "deertrack"
    assert "{{resolve:secretsmanager:${DatabaseSecret}" in database["MasterUserPassword"]["Fn::Sub"]
    url = resources(template, "AWS::SecretsManager::Secret")["DatabaseUrlSecret"]["SecretString"]["Fn::Sub"]
    assert url.startswith("postgresql://deertrack:{{resolve:secretsmanager:")
    assert url.endswith("/deer_tracking?sslmode=require")  # RDS: always over TLS
    assert template["Resources"]["Database"]["DeletionPolicy"] == "Snapshot"


# ------------------------------------------------------------------------------------------ IAM


#: Which queues each function may send to: nothing more.
SENDS = {
    "ApiFunction": {"ExportsQueue", "ReidQueue"},
    "ExportRequestsFunction": {"ExportsQueue"},
    "ImageEventsFunction": {"ReidQueue"},
    "BackfillScheduleFunction": {"ReidQueue"},
    "ExportsDeadLetterFunction": set(),
    "DeadLetterSweepFunction": set(),
}


def test_each_function_has_its_own_least_privilege_policies(template: Template) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == set(SENDS)
    for logical_id, props in functions.items():
        policies = props["Policies"]
        assert all(not isinstance(p, str) for p in policies), f"{logical_id} uses a managed policy by name"
        sends = {logical_target(p["SQSSendMessagePolicy"]["QueueName"]) for p in policies
                 if isinstance(p, dict) and "SQSSendMessagePolicy" in p}
        assert sends == SENDS[logical_id], logical_id
        for policy in policies:
            if isinstance(policy, dict) and len(policy) == 1 and "Statement" not in policy:
                (name, args), = policy.items()
                assert all(logical_target(v) for v in args.values()), f"{logical_id} {name} is not scoped to a resource"
        for statement in statements(policies):
            assert statement["Resource"] != "*", f"{logical_id}: {statement}"
            assert not any(a.endswith(":*") for a in statement["Action"]), f"{logical_id}: {statement}"


def test_only_batch_list_jobs_is_granted_on_every_resource(template: Template) -> None:
    for logical_id, props in resources(template, "AWS::IAM::Role").items():
        for statement in statements(props.get("Policies", [])):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), logical_id
            if statement["Resource"] == "*":
                assert actions == ["batch:ListJobs"], f"{logical_id}: {statement}"


# ------------------------------------------------------------------------------------------ batch


def test_batch_scales_to_zero_with_gpus_for_reid(template: Template) -> None:
    environments = resources(template, "AWS::Batch::ComputeEnvironment")
    for props in environments.values():
        assert props["ComputeResources"]["MinvCpus"] == 0 and props["Type"] == "MANAGED"
    gpu = environments["GpuComputeEnvironment"]["ComputeResources"]
    assert gpu["Ec2Configuration"] == [{"ImageType": "ECS_AL2_NVIDIA"}]
    gpu_types = template["Parameters"][logical_target(gpu["InstanceTypes"])]["Default"].split(",")
    assert all(t.startswith(("g4dn.", "g5.", "g6.", "p")) for t in gpu_types), gpu_types
    jobs = resources(template, "AWS::Batch::JobDefinition")
    queues = resources(template, "AWS::Batch::JobQueue")
    needs = {j["ContainerProperties"]["Command"][0]: {r["Type"]: r["Value"] for r in
                                                      j["ContainerProperties"]["ResourceRequirements"]}
             for j in jobs.values()}
    assert needs["reid"]["GPU"] == "1" and "GPU" not in needs["exports"]
    assert logical_target(queues["ReidJobQueue"]["ComputeEnvironmentOrder"][0]["ComputeEnvironment"]) == \
        "GpuComputeEnvironment"
    for job in jobs.values():
        container = job["ContainerProperties"]
        assert "${WorkerRepository.RepositoryUri}" in container["Image"]["Fn::Sub"]
        assert [s["Name"] for s in container["Secrets"]] == ["DATABASE_URL"]
        assert container["Command"][1:] == ["--once"]  # drain the queue, exit, let the instances go


def test_every_environment_variable_given_to_the_code_is_a_setting(template: Template) -> None:
    """A misspelt variable would be silently ignored and the default used instead."""
    fields = {name.upper() for name in Settings.model_fields}
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for job in resources(template, "AWS::Batch::JobDefinition").values():
        container = job["ContainerProperties"]
        names |= {e["Name"] for e in container["Environment"] if "Name" in e}
        names |= {e["Fn::If"][1]["Name"] for e in container["Environment"] if "Fn::If" in e}
        names |= {s["Name"] for s in container["Secrets"]}
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        for container in task["ContainerDefinitions"]:
            names |= {e["Name"] for e in container["Environment"]} | {s["Name"] for s in container["Secrets"]}
    assert names - fields == set(), f"not read by deertrack.settings: {sorted(names - fields)}"


# ------------------------------------------------------------------------------------------ outputs


def test_outputs_name_the_api_every_queue_and_every_bucket(template: Template) -> None:
    outputs = template["Outputs"]
    assert "execute-api" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    referenced = {logical_target(o["Value"]) for o in outputs.values()}
    for kind in ("AWS::SQS::Queue", "AWS::S3::Bucket"):
        missing = set(resources(template, kind)) - referenced
        assert not missing, f"no output for {sorted(missing)}"
