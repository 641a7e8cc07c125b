"""The emulator's completions of EKS, Bedrock and OpenSearch Serverless (landing_zone/local/eks.py, bedrock.py,
aoss.py): each is absent from moto as it ships (the negative control), present and answering as the API reference
says once patched, and refused by its guard when moto changes under it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local.aoss import aoss_completed
from landing_zone.local.bedrock import guardrails_added, invocation_logging_validated
from landing_zone.local.eks import eks_completed
from landing_zone.local.llm_services import llm_services_completed
from landing_zone.local.patching import MotoChanged, added, replaced

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/cluster"


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _cluster(name: str = "gpu", access: dict[str, Any] | None = None) -> tuple[Any, str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/24")["Subnet"]["SubnetId"]
    eks = boto3.client("eks", region_name=REGION)
    eks.create_cluster(
        name=name,
        version="1.33",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": [subnet], "endpointPrivateAccess": True, "endpointPublicAccess": False},
        accessConfig=access or {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True},
    )
    return eks, vpc, subnet


# ---- guards ---------------------------------------------------------------------------------------------------


def test_added_refuses_a_member_moto_already_has() -> None:
    # GIVEN a class that already has the member a patch would add (moto gained the operation)
    class Response:
        def create_addon(self) -> None: ...

    # WHEN the patch adds it, THEN it refuses instead of shadowing moto's own
    with pytest.raises(MotoChanged, match="create_addon"), added(Response, {"create_addon": lambda self: None}):
        pass
    # AND a route moto now serves is refused the same way
    with pytest.raises(MotoChanged, match="url_paths"), added({"{0}/x$": 1}, {"{0}/x$": 2}):
        pass


def test_added_and_replaced_undo_themselves() -> None:
    class Backend:
        def run(self, name: str) -> str:
            return name

    # WHEN members are added and replaced, THEN they take effect inside and are gone afterwards
    with added(Backend, {"extra": 1}), replaced(Backend, "run", ("self", "name"), lambda f: lambda s, n: n * 2):
        assert Backend().extra == 1  # type: ignore[attr-defined]
        assert Backend().run("a") == "aa"
    assert not hasattr(Backend, "extra") and Backend().run("a") == "a"
    # AND a changed signature is refused
    with pytest.raises(MotoChanged), replaced(Backend, "run", ("self", "other"), lambda f: f):
        pass


def test_every_guard_holds_for_the_pinned_moto() -> None:
    # GIVEN the pinned moto, WHEN every completion is entered, THEN no guard refuses (a moto bump shows here first)
    with llm_services_completed():
        pass


# ---- EKS ------------------------------------------------------------------------------------------------------


def test_eks_addons_absent_from_moto_as_shipped(aws: None) -> None:
    eks, _, _ = _cluster()
    # GIVEN moto as it ships, WHEN an add-on is created, THEN moto has no such route
    with pytest.raises(ClientError):
        eks.create_addon(clusterName="gpu", addonName="coredns")


def test_eks_addon_lifecycle(aws: None) -> None:
    with eks_completed():
        eks, _, _ = _cluster()
        # WHEN an add-on is created without a version, THEN it is ACTIVE at the default version for 1.33
        addon = eks.create_addon(clusterName="gpu", addonName="coredns", tags={"team": "t"})["addon"]
        versions = eks.describe_addon_versions(kubernetesVersion="1.33", addonName="coredns")["addons"][0]
        default = [v["addonVersion"] for v in versions["addonVersions"] if v["compatibilities"][0]["defaultVersion"]]
        assert (addon["status"], addon["addonVersion"]) == ("ACTIVE", default[0])
        assert addon["addonArn"].startswith(f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/gpu/coredns/")
        assert eks.list_tags_for_resource(resourceArn=addon["addonArn"])["tags"] == {"team": "t"}
        # AND an update is an update EKS reports as Successful, and it shows on the add-on
        update = eks.update_addon(clusterName="gpu", addonName="coredns", configurationValues='{"replicaCount": 3}')
        described = eks.describe_update(name="gpu", updateId=update["update"]["id"], addonName="coredns")
        assert described["update"]["status"] == "Successful"
        assert eks.describe_addon(clusterName="gpu", addonName="coredns")["addon"]["configurationValues"] == (
            '{"replicaCount": 3}'
        )
        assert eks.list_addons(clusterName="gpu")["addons"] == ["coredns"]
        # AND bad input is refused with EKS's errors, and changes nothing
        for bad in ({"addonName": "not-an-addon"}, {"addonName": "kube-proxy", "addonVersion": "v0.0.1"}):
            with pytest.raises(ClientError) as refused:
                eks.create_addon(clusterName="gpu", **bad)
            assert _code(refused) == "InvalidParameterException"
        with pytest.raises(ClientError) as twice:
            eks.create_addon(clusterName="gpu", addonName="coredns")
        assert _code(twice) == "ResourceInUseException"
        # AND deleted, it is gone
        eks.delete_addon(clusterName="gpu", addonName="coredns")
        with pytest.raises(ClientError) as gone:
            eks.describe_addon(clusterName="gpu", addonName="coredns")
        assert _code(gone) == "ResourceNotFoundException"


def test_eks_cluster_gets_its_security_group_issuer_and_access_config(aws: None) -> None:
    with eks_completed():
        eks, vpc, _ = _cluster("one")
        _cluster("two")
        ec2 = boto3.client("ec2", region_name=REGION)
        one = eks.describe_cluster(name="one")["cluster"]
        two = eks.describe_cluster(name="two")["cluster"]
        # THEN each cluster has its own OIDC issuer and the access configuration it asked for
        assert one["identity"]["oidc"]["issuer"] != two["identity"]["oidc"]["issuer"]
        assert one["accessConfig"]["authenticationMode"] == "API"
        # AND EKS's cluster security group exists in the subnets' VPC, tagged as EKS tags it
        group_id = one["resourcesVpcConfig"]["clusterSecurityGroupId"]
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        assert group["VpcId"] == vpc == one["resourcesVpcConfig"]["vpcId"]
        assert {"Key": "aws:eks:cluster-name", "Value": "one"} in group["Tags"]
        # AND deleting the cluster deletes the group EKS made
        eks.delete_cluster(name="one")
        with pytest.raises(ClientError):
            ec2.describe_security_groups(GroupIds=[group_id])


def test_eks_access_entries_and_policies(aws: None) -> None:
    with eks_completed():
        eks, _, _ = _cluster()
        principal = f"arn:aws:iam::{ACCOUNT}:role/team/admins"
        entry = eks.create_access_entry(clusterName="gpu", principalArn=principal)["accessEntry"]
        assert entry["type"] == "STANDARD" and entry["username"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/")
        # WHEN a policy is associated for two namespaces, THEN it reads back as associated
        policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
        eks.associate_access_policy(
            clusterName="gpu",
            principalArn=principal,
            policyArn=policy,
            accessScope={"type": "namespace", "namespaces": ["a", "b"]},
        )
        listed = eks.list_associated_access_policies(clusterName="gpu", principalArn=principal)
        assert [(p["policyArn"], p["accessScope"]["namespaces"]) for p in listed["associatedAccessPolicies"]] == [
            (policy, ["a", "b"])
        ]
        assert eks.describe_access_entry(clusterName="gpu", principalArn=principal)["accessEntry"] == entry
        # AND a policy that is not an EKS access policy is refused
        with pytest.raises(ClientError) as refused:
            eks.associate_access_policy(
                clusterName="gpu", principalArn=principal, policyArn=f"{policy}X", accessScope={"type": "cluster"}
            )
        assert _code(refused) == "ResourceNotFoundException"
        eks.disassociate_access_policy(clusterName="gpu", principalArn=principal, policyArn=policy)
        eks.delete_access_entry(clusterName="gpu", principalArn=principal)
        assert eks.list_access_entries(clusterName="gpu")["accessEntries"] == []


def test_eks_access_entries_need_the_api_authentication_mode(aws: None) -> None:
    with eks_completed():
        eks, _, _ = _cluster(access={"authenticationMode": "CONFIG_MAP"})
        with pytest.raises(ClientError) as refused:
            eks.create_access_entry(clusterName="gpu", principalArn=f"arn:aws:iam::{ACCOUNT}:role/x")
        assert _code(refused) == "InvalidParameterException"


def test_eks_pod_identity_associations_alone_and_owned_by_an_addon(aws: None) -> None:
    with eks_completed():
        eks, _, _ = _cluster()
        role = f"arn:aws:iam::{ACCOUNT}:role/app"
        made = eks.create_pod_identity_association(
            clusterName="gpu", namespace="apps", serviceAccount="api", roleArn=role
        )["association"]
        assert (
            made["associationArn"]
            == f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/gpu/" + (made["associationId"])
        )
        with pytest.raises(ClientError) as twice:
            eks.create_pod_identity_association(clusterName="gpu", namespace="apps", serviceAccount="api", roleArn=role)
        assert _code(twice) == "ResourceInUseException"
        # WHEN an add-on asks for a Pod Identity association, THEN it owns one the provider can read back by id
        addon = eks.create_addon(
            clusterName="gpu",
            addonName="aws-ebs-csi-driver",
            podIdentityAssociations=[{"serviceAccount": "ebs-csi-controller-sa", "roleArn": role}],
        )["addon"]
        (arn,) = addon["podIdentityAssociations"]
        owned = eks.describe_pod_identity_association(clusterName="gpu", associationId=arn.split("/")[2])
        assert owned["association"]["ownerArn"] == addon["addonArn"]
        # AND deleting the add-on removes the association it owned, not the other one
        eks.delete_addon(clusterName="gpu", addonName="aws-ebs-csi-driver")
        left = eks.list_pod_identity_associations(clusterName="gpu")["associations"]
        assert [a["associationId"] for a in left] == [made["associationId"]]
        eks.delete_pod_identity_association(clusterName="gpu", associationId=made["associationId"])


# ---- Bedrock guardrails -----------------------------------------------------------------------------------------

GUARDRAIL: dict[str, Any] = {
    "name": "rag-guardrail",
    "blockedInputMessaging": "no",
    "blockedOutputsMessaging": "no",
    "contentPolicyConfig": {
        "filtersConfig": [
            {"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
            {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "NONE"},
        ]
    },
    "sensitiveInformationPolicyConfig": {"piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}]},
}


def test_guardrails_absent_from_moto_as_shipped(aws: None) -> None:
    with pytest.raises((ClientError, NotImplementedError), match=r"(?i)create_?guardrail|not.*implemented"):
        boto3.client("bedrock", region_name=REGION).create_guardrail(**GUARDRAIL)


def test_guardrail_draft_versions_and_deletion(aws: None) -> None:
    with guardrails_added():
        bedrock = boto3.client("bedrock", region_name=REGION)
        made = bedrock.create_guardrail(**GUARDRAIL, tags=[{"key": "team", "value": "t"}])
        # THEN the draft reads back with the policies it was given, under GetGuardrail's names
        draft = bedrock.get_guardrail(guardrailIdentifier=made["guardrailId"])
        assert (draft["version"], draft["status"]) == ("DRAFT", "READY")
        assert draft["contentPolicy"]["filters"] == GUARDRAIL["contentPolicyConfig"]["filtersConfig"]
        assert draft["sensitiveInformationPolicy"]["piiEntities"] == [{"type": "EMAIL", "action": "ANONYMIZE"}]
        assert bedrock.list_tags_for_resource(resourceARN=made["guardrailArn"])["tags"] == [
            {"key": "team", "value": "t"}
        ]
        # WHEN a version is made and the draft changes, THEN the version keeps what it snapshot (by ARN as well)
        assert bedrock.create_guardrail_version(guardrailIdentifier=made["guardrailArn"])["version"] == "1"
        name_pii = {"piiEntitiesConfig": [{"type": "NAME", "action": "BLOCK"}]}
        bedrock.update_guardrail(
            guardrailIdentifier=made["guardrailId"], **{**GUARDRAIL, "sensitiveInformationPolicyConfig": name_pii}
        )
        one = bedrock.get_guardrail(guardrailIdentifier=made["guardrailArn"], guardrailVersion="1")
        assert one["sensitiveInformationPolicy"]["piiEntities"][0]["type"] == "EMAIL"
        assert (
            bedrock.get_guardrail(guardrailIdentifier=made["guardrailId"])["sensitiveInformationPolicy"]["piiEntities"][
                0
            ]["type"]
            == "NAME"
        )
        # AND deleting the version leaves the guardrail; deleting the guardrail removes it
        bedrock.delete_guardrail(guardrailIdentifier=made["guardrailId"], guardrailVersion="1")
        with pytest.raises(ClientError) as gone:
            bedrock.get_guardrail(guardrailIdentifier=made["guardrailId"], guardrailVersion="1")
        assert _code(gone) == "ResourceNotFoundException"
        bedrock.delete_guardrail(guardrailIdentifier=made["guardrailId"])
        assert bedrock.list_guardrails()["guardrails"] == []


def test_guardrail_refuses_what_aws_refuses(aws: None) -> None:
    with guardrails_added():
        bedrock = boto3.client("bedrock", region_name=REGION)
        attack = {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "HIGH"}
        with pytest.raises(ClientError) as refused:
            bedrock.create_guardrail(**{**GUARDRAIL, "contentPolicyConfig": {"filtersConfig": [attack]}})
        assert _code(refused) == "ValidationException"
        bedrock.create_guardrail(**GUARDRAIL)
        with pytest.raises(ClientError) as twice:
            bedrock.create_guardrail(**GUARDRAIL)
        assert _code(twice) == "ResourceInUseException"
        assert len(bedrock.list_guardrails()["guardrails"]) == 1


# ---- OpenSearch Serverless -----------------------------------------------------------------------------------


def _encryption(aoss: Any, name: str = "kbase") -> None:
    policy = {"Rules": [{"ResourceType": "collection", "Resource": [f"collection/{name}*"]}], "AWSOwnedKey": True}
    aoss.create_security_policy(name=f"{name}-enc", type="encryption", policy=json.dumps(policy))


def test_aoss_collection_creation_fails_in_moto_as_shipped(aws: None) -> None:
    aoss = boto3.client("opensearchserverless", region_name=REGION)
    # GIVEN an encryption policy naming the collection by a prefix pattern, as AWS allows
    _encryption(aoss)
    # WHEN the collection is created, THEN moto (exact names only) finds no policy
    with pytest.raises(ClientError, match="No matching security policy"):
        aoss.create_collection(name="kbase", type="VECTORSEARCH")
    # AND with the exact name and an AWS-owned key, moto reads a customer key the policy does not have
    exact = {"Rules": [{"ResourceType": "collection", "Resource": ["collection/exact"]}], "AWSOwnedKey": True}
    aoss.create_security_policy(name="exact-enc", type="encryption", policy=json.dumps(exact))
    with pytest.raises(KeyError, match="KmsARN"):
        aoss.create_collection(name="exact", type="VECTORSEARCH")


def test_aoss_collection_takes_the_encryption_policy_that_covers_it(aws: None) -> None:
    with aoss_completed():
        aoss = boto3.client("opensearchserverless", region_name=REGION)
        rule = {"ResourceType": "collection", "Resource": ["collection/kbase"]}
        network = [{"Rules": [rule], "AllowFromPublic": True}]
        aoss.create_security_policy(name="kbase-net", type="network", policy=json.dumps(network))
        # GIVEN only a network policy, WHEN the collection is created, THEN it is refused (no encryption policy)
        with pytest.raises(ClientError) as refused:
            aoss.create_collection(name="kbase", type="VECTORSEARCH")
        assert _code(refused) == "ValidationException"
        # GIVEN an encryption policy by prefix with an AWS-owned key, THEN the collection is made with key "auto"
        _encryption(aoss)
        made = aoss.create_collection(name="kbase", type="VECTORSEARCH", standbyReplicas="DISABLED")
        read = aoss.batch_get_collection(ids=[made["createCollectionDetail"]["id"]])["collectionDetails"][0]
        assert (read["kmsKeyArn"], read["standbyReplicas"], read["status"]) == ("auto", "DISABLED", "ACTIVE")
        with pytest.raises(ClientError) as twice:
            aoss.create_collection(name="kbase", type="VECTORSEARCH")
        assert _code(twice) == "ConflictException"
        # AND a security policy can be deleted
        aoss.delete_security_policy(name="kbase-net", type="network")
        assert aoss.list_security_policies(type="network")["securityPolicySummaries"] == []


def test_aoss_data_access_policies(aws: None) -> None:
    with aoss_completed():
        aoss = boto3.client("opensearchserverless", region_name=REGION)
        rules = [
            {"ResourceType": "index", "Resource": ["index/kbase/*"], "Permission": ["aoss:ReadDocument"]},
        ]
        policy = [{"Rules": rules, "Principal": [f"arn:aws:iam::{ACCOUNT}:role/kb"]}]
        made = aoss.create_access_policy(name="kb-data", type="data", policy=json.dumps(policy))["accessPolicyDetail"]
        assert aoss.get_access_policy(name="kb-data", type="data")["accessPolicyDetail"]["policy"] == policy
        # WHEN updated with its version, THEN the policy and its version change; a stale version is refused
        wider = [{**policy[0], "Rules": [{**rules[0], "Permission": ["aoss:ReadDocument", "aoss:WriteDocument"]}]}]
        updated = aoss.update_access_policy(
            name="kb-data", type="data", policyVersion=made["policyVersion"], policy=json.dumps(wider)
        )["accessPolicyDetail"]
        assert updated["policyVersion"] != made["policyVersion"]
        with pytest.raises(ClientError) as stale:
            aoss.update_access_policy(
                name="kb-data", type="data", policyVersion=made["policyVersion"], policy=json.dumps(policy)
            )
        assert _code(stale) == "ValidationException"
        # AND a permission that does not apply to the resource type is refused, and nothing is stored
        bad = [{**policy[0], "Rules": [{**rules[0], "Permission": ["aoss:CreateCollectionItems"]}]}]
        with pytest.raises(ClientError) as refused:
            aoss.create_access_policy(name="kb-bad", type="data", policy=json.dumps(bad))
        assert _code(refused) == "ValidationException"
        assert [p["name"] for p in aoss.list_access_policies(type="data")["accessPolicySummaries"]] == ["kb-data"]
        aoss.delete_access_policy(name="kb-data", type="data")
        with pytest.raises(ClientError) as gone:
            aoss.get_access_policy(name="kb-data", type="data")
        assert _code(gone) == "ResourceNotFoundException"


# ---- signatures of REST reads under moto's authentication --------------------------------------------------------


def test_bodyless_signatures_let_signed_rest_reads_through() -> None:
    from moto.server import ThreadedMotoServer

    from landing_zone.local.authorization.server import bodyless_signatures, moto_identity_check_off
    from landing_zone.local.runtime import iam_enforced

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = {"endpoint_url": f"http://{host}:{port}", "region_name": REGION}
        iam = boto3.client("iam", aws_access_key_id="testing", aws_secret_access_key="testing", **endpoint)
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        eks = boto3.client(
            "eks", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], **endpoint
        )
        with eks_completed(), iam_enforced(), moto_identity_check_off():
            # GIVEN moto's authentication on, WHEN a signed GET with a query string is sent, THEN moto's own
            # signature recomputation refuses it (the negative control)
            with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
                eks.describe_addon_versions(kubernetesVersion="1.33")
            # WHEN the patch is on, THEN the same call is accepted, and a wrong secret is still refused
            with bodyless_signatures():
                assert eks.describe_addon_versions(kubernetesVersion="1.33")["addons"]
                forged = boto3.client(
                    "eks", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key="wrong", **endpoint
                )
                with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
                    forged.describe_addon_versions(kubernetesVersion="1.33")
    finally:
        server.stop()


# ---- knowledge-base data sources -------------------------------------------------------------------------------


def _knowledge_base(agent: Any) -> str:
    kb = agent.create_knowledge_base(
        name="rag",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/kb",
        knowledgeBaseConfiguration={
            "type": "VECTOR",
            "vectorKnowledgeBaseConfiguration": {
                "embeddingModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-text-v2:0"
            },
        },
        storageConfiguration={
            "type": "OPENSEARCH_SERVERLESS",
            "opensearchServerlessConfiguration": {
                "collectionArn": f"arn:aws:aoss:{REGION}:{ACCOUNT}:collection/abc",
                "vectorIndexName": "vectors",
                "fieldMapping": {"vectorField": "v", "textField": "t", "metadataField": "m"},
            },
        },
    )
    return str(kb["knowledgeBase"]["knowledgeBaseId"])


S3_SOURCE = {"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::docs", "inclusionPrefixes": ["docs/"]}}


def test_data_sources_absent_from_moto_as_shipped(aws: None) -> None:
    agent = boto3.client("bedrock-agent", region_name=REGION)
    kb = _knowledge_base(agent)
    with pytest.raises((ClientError, NotImplementedError), match=r"(?i)create_data_source|not.*implemented"):
        agent.create_data_source(knowledgeBaseId=kb, name="s3", dataSourceConfiguration=S3_SOURCE)


def test_data_source_lifecycle(aws: None) -> None:
    from landing_zone.local.bedrock import data_sources_added

    with data_sources_added():
        agent = boto3.client("bedrock-agent", region_name=REGION)
        kb = _knowledge_base(agent)
        chunking = {"chunkingConfiguration": {"chunkingStrategy": "FIXED_SIZE"}}
        made = agent.create_data_source(
            knowledgeBaseId=kb, name="s3", dataSourceConfiguration=S3_SOURCE, vectorIngestionConfiguration=chunking
        )["dataSource"]
        read = agent.get_data_source(knowledgeBaseId=kb, dataSourceId=made["dataSourceId"])["dataSource"]
        assert (read["status"], read["dataDeletionPolicy"]) == ("AVAILABLE", "DELETE")
        assert read["dataSourceConfiguration"] == S3_SOURCE and read["vectorIngestionConfiguration"] == chunking
        # AND a second one of the same name, or one in a knowledge base that does not exist, is refused
        with pytest.raises(ClientError) as twice:
            agent.create_data_source(knowledgeBaseId=kb, name="s3", dataSourceConfiguration=S3_SOURCE)
        assert _code(twice) == "ConflictException"
        with pytest.raises(ClientError) as nowhere:
            agent.create_data_source(knowledgeBaseId="NOSUCHKB00", name="x", dataSourceConfiguration=S3_SOURCE)
        assert _code(nowhere) == "ResourceNotFoundException"
        assert [d["name"] for d in agent.list_data_sources(knowledgeBaseId=kb)["dataSourceSummaries"]] == ["s3"]
        deleted = agent.delete_data_source(knowledgeBaseId=kb, dataSourceId=made["dataSourceId"])
        assert deleted["status"] == "DELETING"
        assert agent.list_data_sources(knowledgeBaseId=kb)["dataSourceSummaries"] == []


# ---- what the sagemaker-endpoint template reads back --------------------------------------------------------------


def test_models_keep_network_isolation(aws: None) -> None:
    from landing_zone.local.sagemaker import models_keep_network_isolation

    sm = boto3.client("sagemaker", region_name=REGION)
    container = {"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/llm:1"}
    role = f"arn:aws:iam::{ACCOUNT}:role/m"
    # GIVEN moto as it ships, WHEN a model asks for network isolation, THEN it reads back without it
    sm.create_model(ModelName="before", ExecutionRoleArn=role, PrimaryContainer=container, EnableNetworkIsolation=True)
    assert sm.describe_model(ModelName="before")["EnableNetworkIsolation"] is False
    # WHEN patched, THEN it reads back what was asked, either way
    with models_keep_network_isolation():
        sm.create_model(
            ModelName="after", ExecutionRoleArn=role, PrimaryContainer=container, EnableNetworkIsolation=True
        )
        sm.create_model(ModelName="open", ExecutionRoleArn=role, PrimaryContainer=container)
        assert sm.describe_model(ModelName="after")["EnableNetworkIsolation"] is True
        assert sm.describe_model(ModelName="open")["EnableNetworkIsolation"] is False


def test_prefix_list_rules_keep_their_description(aws: None) -> None:
    from landing_zone.local.ec2 import prefix_list_rule_descriptions

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    prefix_list = ec2.describe_prefix_lists()["PrefixLists"][0]["PrefixListId"]

    def egress_description(name: str) -> Any:
        group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_egress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "PrefixListIds": [{"PrefixListId": prefix_list, "Description": "HTTPS to S3"}],
                }
            ],
        )
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
        return [r.get("Description") for r in rules["SecurityGroupRules"] if r.get("PrefixListId")]

    # GIVEN moto as it ships, THEN the prefix-list rule's description is lost; WHEN patched, THEN it is kept
    assert egress_description("before") == [None]
    with prefix_list_rule_descriptions():
        assert egress_description("after") == ["HTTPS to S3"]


# ---- Bedrock model-invocation logging destinations ------------------------------------------------------------


def _logging_to(group: str, role: str) -> dict[str, Any]:
    return {"cloudWatchConfig": {"logGroupName": group, "roleArn": role}, "textDataDeliveryEnabled": True}


def test_invocation_logging_to_nowhere_accepted_by_moto_as_shipped(aws: None) -> None:
    # The control: moto stores a destination that does not exist, which AWS refuses
    bedrock = boto3.client("bedrock", region_name=REGION)
    bedrock.put_model_invocation_logging_configuration(loggingConfig=_logging_to("missing", ROLE))
    assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"]["cloudWatchConfig"][
        "logGroupName"
    ] == ("missing")


def test_invocation_logging_refuses_what_bedrock_could_not_deliver_to(aws: None) -> None:
    from vending.invocation_logging import LOG_GROUP, ensure_invocation_logging, intended_config, role_arn

    with invocation_logging_validated():
        session = boto3.Session(region_name=REGION)
        bedrock = session.client("bedrock", region_name=REGION)
        iam = session.client("iam")

        def refused(config: dict[str, Any]) -> str:
            with pytest.raises(ClientError) as caught:
                bedrock.put_model_invocation_logging_configuration(loggingConfig=config)
            assert _code(caught) == "ValidationException"
            return str(caught.value.response["Error"]["Message"])

        # WHEN the log group or the role does not exist THEN AWS's message, and nothing is stored
        assert refused(_logging_to("missing", ROLE)) == (
            f"Failed to validate permissions for log group: missing, with role: {ROLE}. Verify the IAM role "
            "permissions are correct."
        )
        assert bedrock.get_model_invocation_logging_configuration().get("loggingConfig") in (None, {})
        # WHEN the bootstrap's own destination is made (group, role trusted by Bedrock, its write grant) THEN it is
        # accepted: what Bootstrap configures is deliverable
        ensure_invocation_logging(session, ACCOUNT, [REGION])
        assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == intended_config(ACCOUNT)
        # WHEN the role trusts another service, or may not write the group's stream THEN refused again
        trusts_lambda = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        iam.create_role(RoleName="other", AssumeRolePolicyDocument=json.dumps(trusts_lambda))
        assert "with role: arn:aws:iam::" in refused(_logging_to(LOG_GROUP, f"arn:aws:iam::{ACCOUNT}:role/other"))
        iam.delete_role_policy(RoleName="VendBedrockInvocationLogging", PolicyName="WriteInvocationLogs")
        refused(intended_config(ACCOUNT))
        # AND a group of another region is not one of this region's
        west = session.client("bedrock", region_name="us-west-2")
        with pytest.raises(ClientError) as elsewhere:
            west.put_model_invocation_logging_configuration(loggingConfig=_logging_to(LOG_GROUP, role_arn(ACCOUNT)))
        assert _code(elsewhere) == "ValidationException"
