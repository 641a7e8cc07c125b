"""EKS as the eks-gpu-serving template uses it. moto 5.2 creates clusters and node groups but has no add-ons, access
entries, Pod Identity associations or updates, gives every cluster of a process the same OIDC issuer, drops the
cluster's access configuration and creates no cluster security group. This patch adds them to moto's EKS, following
the EKS API reference (https://docs.aws.amazon.com/eks/latest/APIReference/) and botocore's model, whose routes
moto's dispatcher already resolves; the state lives on moto's cluster objects, so a moto reset clears it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from landing_zone.local.patching import added, replaced

# What EKS offers for the add-ons the eks module allows, by Kubernetes minor (DescribeAddonVersions, 2025).
_ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "vpc-cni": {"1.31": "v1.19.5-eksbuild.1", "1.32": "v1.19.5-eksbuild.1", "1.33": "v1.19.5-eksbuild.1"},
    "coredns": {"1.31": "v1.11.4-eksbuild.14", "1.32": "v1.11.4-eksbuild.14", "1.33": "v1.12.1-eksbuild.2"},
    "kube-proxy": {"1.31": "v1.31.7-eksbuild.7", "1.32": "v1.32.3-eksbuild.7", "1.33": "v1.33.0-eksbuild.2"},
    "eks-pod-identity-agent": {"1.31": "v1.3.7-eksbuild.2", "1.32": "v1.3.7-eksbuild.2", "1.33": "v1.3.7-eksbuild.2"},
    "aws-ebs-csi-driver": {"1.31": "v1.44.0-eksbuild.1", "1.32": "v1.44.0-eksbuild.1", "1.33": "v1.44.0-eksbuild.1"},
    "aws-efs-csi-driver": {"1.31": "v2.1.8-eksbuild.1", "1.32": "v2.1.8-eksbuild.1", "1.33": "v2.1.8-eksbuild.1"},
    "amazon-cloudwatch-observability": {
        "1.31": "v4.1.0-eksbuild.1",
        "1.32": "v4.1.0-eksbuild.1",
        "1.33": "v4.1.0-eksbuild.1",
    },
    "aws-guardduty-agent": {"1.31": "v1.10.0-eksbuild.2", "1.32": "v1.10.0-eksbuild.2", "1.33": "v1.10.0-eksbuild.2"},
    "eks-node-monitoring-agent": {
        "1.31": "v1.3.0-eksbuild.2",
        "1.32": "v1.3.0-eksbuild.2",
        "1.33": "v1.3.0-eksbuild.2",
    },
    "snapshot-controller": {"1.31": "v8.2.0-eksbuild.1", "1.32": "v8.2.0-eksbuild.1", "1.33": "v8.2.0-eksbuild.1"},
}
_ADDON_TYPES = {"vpc-cni": "networking", "coredns": "networking", "kube-proxy": "networking"}
_CLUSTER_SG_DESCRIPTION = (
    "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any "
    "managed workloads."
)


def _now() -> datetime:
    return datetime.now(UTC)


def _id(length: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def addon_catalogue(kubernetes_version: str | None = None, addon_name: str | None = None) -> list[dict[str, Any]]:
    """DescribeAddonVersions' `addons`: every add-on (or one) with the versions compatible with a Kubernetes minor."""
    out = []
    for name, by_minor in _ADDON_VERSIONS.items():
        if addon_name and name != addon_name:
            continue
        minors = [kubernetes_version] if kubernetes_version else sorted(by_minor)
        versions: dict[str, list[dict[str, Any]]] = {}
        for minor in minors:
            if minor in by_minor:
                versions.setdefault(by_minor[minor], []).append(
                    {"clusterVersion": minor, "platformVersions": ["*"], "defaultVersion": True}
                )
        if not versions:
            continue
        out.append(
            {
                "addonName": name,
                "type": _ADDON_TYPES.get(name, "storage" if "csi" in name else "observability"),
                "owner": "aws",
                "publisher": "eks",
                "addonVersions": [
                    {
                        "addonVersion": v,
                        "architecture": ["amd64", "arm64"],
                        "computeTypes": ["ec2"],
                        "compatibilities": c,
                        "requiresConfiguration": False,
                        "requiresIamPermissions": name in ("vpc-cni", "aws-ebs-csi-driver", "aws-efs-csi-driver"),
                    }
                    for v, c in versions.items()
                ],
            }
        )
    return out


@dataclass
class ClusterExtras:
    """What moto's Cluster lacks, kept on it (attribute `vend_extras`)."""

    addons: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_policies: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # principal -> policy -> it
    associations: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)


def _errors() -> Any:
    from moto.eks import exceptions

    return exceptions


def _not_found(message: str, **names: Any) -> Exception:
    return _errors().ResourceNotFoundException(message=message, **names)  # type: ignore[no-any-return]


def _invalid(message: str, **names: Any) -> Exception:
    return _errors().InvalidParameterException(message=message, **names)  # type: ignore[no-any-return]


def _in_use(message: str, **names: Any) -> Exception:
    return _errors().ResourceInUseException(message=message, **names)  # type: ignore[no-any-return]


def _cluster(response: Any, name: str) -> Any:
    cluster = response.eks_backend.clusters.get(name)
    if cluster is None:
        raise _not_found(f"No cluster found for name: {name}.", clusterName=name)
    if not hasattr(cluster, "vend_extras"):
        cluster.vend_extras = ClusterExtras()
    return cluster


def _extras(cluster: Any) -> ClusterExtras:
    return cluster.vend_extras  # type: ignore[no-any-return]


def _prefix(cluster: Any) -> str:
    return str(cluster.arn).split(":cluster/", 1)[0]  # arn:aws:eks:<region>:<account>


def _param(response: Any, name: str, default: Any = None) -> Any:
    return response._get_param(name, default)


def _principal(response: Any) -> str:
    """The principal ARN of an access-entry path (the SDKs escape it, slashes included)."""
    value = response.uri_match.get("principalArn") or _param(response, "principalArn")
    return unquote(str(value))


def _result(payload: dict[str, Any]) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult(payload)


def _new_update(cluster: Any, kind: str, params: list[dict[str, str]]) -> dict[str, Any]:
    update_id = secrets.token_hex(16)
    update: dict[str, Any] = {
        "id": update_id,
        "status": "Successful",  # moto applies every change at once
        "type": kind,
        "params": params,
        "createdAt": _now(),
        "errors": [],
    }
    _extras(cluster).updates[update_id] = update
    return update


# ---- clusters: issuer, access configuration, cluster security group ------------------------------------------


def _complete_cluster(response: Any, cluster: Any) -> None:
    """What EKS sets on a new cluster that moto does not: its own OIDC issuer id, the access configuration asked for,
    the cluster security group (created in the subnets' VPC and tagged as EKS tags it) and the read-back defaults."""
    from moto.ec2.models import ec2_backends

    region = response.region
    cluster.vend_extras = ClusterExtras()
    cluster.identity = {
        "oidc": {"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{secrets.token_hex(16).upper()}"}
    }
    access = _param(response, "accessConfig") or {}
    cluster.access_config = {"authenticationMode": access.get("authenticationMode", "CONFIG_MAP")}
    cluster.kubernetes_network_config = {"ipFamily": "ipv4", **dict(cluster.kubernetes_network_config or {})}
    vpc_config = dict(cluster.resources_vpc_config or {})
    ec2 = ec2_backends[response.current_account][region]
    subnets = vpc_config.get("subnetIds") or []
    vpc_id = ec2.get_subnet(subnets[0]).vpc_id if subnets else None
    group = ec2.create_security_group(
        name=f"eks-cluster-sg-{cluster.name}-{_id(10, string.digits)}",
        description=_CLUSTER_SG_DESCRIPTION,
        vpc_id=vpc_id,
        tags={
            "Name": f"eks-cluster-sg-{cluster.name}",
            "aws:eks:cluster-name": cluster.name,
            f"kubernetes.io/cluster/{cluster.name}": "owned",
        },
    )
    vpc_config.update(
        {
            "clusterSecurityGroupId": group.id,
            "vpcId": vpc_id,
            "securityGroupIds": list(vpc_config.get("securityGroupIds") or []),
            "endpointPublicAccess": bool(vpc_config.get("endpointPublicAccess", True)),
            "endpointPrivateAccess": bool(vpc_config.get("endpointPrivateAccess", False)),
            "publicAccessCidrs": list(vpc_config.get("publicAccessCidrs") or ["0.0.0.0/0"]),
        }
    )
    cluster.resources_vpc_config = vpc_config


def _create_cluster(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def create_cluster(self: Any) -> Any:
        result = original(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        _complete_cluster(self, cluster)
        return result

    return create_cluster


def _delete_cluster(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def delete_cluster(self: Any) -> Any:
        cluster = self.eks_backend.clusters.get(self._get_param("name"))
        result = original(self)  # refuses a cluster with node groups, as EKS does
        group = (getattr(cluster, "resources_vpc_config", None) or {}).get("clusterSecurityGroupId")
        if group:
            from moto.ec2.models import ec2_backends

            with contextlib.suppress(Exception):  # already gone: EKS deletes what it created, once
                ec2_backends[self.current_account][self.region].delete_security_group(group_id=group)
        return result

    return delete_cluster


def _create_nodegroup(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def create_nodegroup(self: Any) -> Any:
        result = original(self)
        cluster = self.eks_backend.clusters[self._get_param("name")]
        group = cluster.nodegroups[self._get_param("nodegroupName")]
        # moto drops the update configuration, fills in an SSH key nobody asked for, a disk size beside a launch
        # template (EKS leaves it to the template) and its 1.19 defaults; EKS takes the cluster's version and the
        # latest AMI release for it.
        group.remote_access = self._get_param("remoteAccess")
        if not group.remote_access:
            group.resources.pop("remoteAccessSecurityGroup", None)
        group.disk_size = self._get_param("diskSize") or (None if self._get_param("launchTemplate") else 20)
        group.version = self._get_param("version") or cluster.version
        group.release_version = self._get_param("releaseVersion") or f"{group.version}.0-20250715"
        group.update_config = self._get_param("updateConfig") or {"maxUnavailable": 1}  # moto drops it
        return result

    return create_nodegroup


def _create_launch_template(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def create_launch_template(self: Any) -> Any:
        result = original(self)
        # moto copies the request's own TagSpecifications (the launch template's tags) into the template's data,
        # where EC2 keeps only what instances and volumes launched from it get.
        template = self.ec2_backend.get_launch_template_by_name(self._get_param("LaunchTemplateName"))
        for version in template.versions:
            specs = version.data.get("TagSpecifications")
            if specs:
                version.data["TagSpecifications"] = [s for s in specs if s.get("ResourceType") != "launch-template"]
        return result

    return create_launch_template


# ---- add-ons ----------------------------------------------------------------------------------------------------


def _addon_version(cluster: Any, name: str, version: str | None) -> str:
    by_minor = _ADDON_VERSIONS.get(name)
    if by_minor is None:
        raise _invalid(f"Addon {name} specified is not supported", clusterName=cluster.name, addonName=name)
    if version is None:
        default = by_minor.get(str(cluster.version))
        if default is None:
            raise _invalid(
                f"Addon {name} has no version for Kubernetes {cluster.version}",
                clusterName=cluster.name,
                addonName=name,
            )
        return default
    if version not in by_minor.values():
        raise _invalid(
            f"Addon version specified is not supported, {name}:{version}", clusterName=cluster.name, addonName=name
        )
    return version


def _check_configuration(cluster: Any, name: str, values: str | None) -> None:
    if not values:
        return
    try:
        parsed = json.loads(values)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):  # EKS validates against the add-on's JSON schema; an object at the least
        raise _invalid(
            "ConfigurationValue provided in request is not supported: Json schema validation failed",
            clusterName=cluster.name,
            addonName=name,
        )


def _associate(response: Any, cluster: Any, namespace: str, service_account: str, role_arn: str, **more: Any) -> Any:
    extras = _extras(cluster)
    for other in extras.associations.values():
        if (other["namespace"], other["serviceAccount"]) == (namespace, service_account):
            raise _in_use(
                "Association already exists: " + other["associationArn"], clusterName=cluster.name, addonName=None
            )
    association_id = "a-" + _id(17)
    now = _now()
    association = {
        "clusterName": cluster.name,
        "namespace": namespace,
        "serviceAccount": service_account,
        "roleArn": role_arn,
        "associationArn": f"{_prefix(cluster)}:podidentityassociation/{cluster.name}/{association_id}",
        "associationId": association_id,
        "tags": dict(more.get("tags") or {}),
        "createdAt": now,
        "modifiedAt": now,
        "disableSessionTags": bool(more.get("disableSessionTags") or False),
    }
    for key in ("ownerArn", "targetRoleArn", "policy"):
        if more.get(key):
            association[key] = more[key]
    extras.associations[association_id] = association
    return association


def _addon_associations(response: Any, cluster: Any, addon: dict[str, Any], wanted: list[dict[str, str]]) -> None:
    """An add-on's Pod Identity associations are associations it owns; EKS replaces them with the new list."""
    extras = _extras(cluster)
    owned = [a for a in extras.associations.values() if a.get("ownerArn") == addon["addonArn"]]
    for association in owned:
        del extras.associations[association["associationId"]]
    created = [
        _associate(
            response,
            cluster,
            "kube-system",
            item["serviceAccount"],
            item["roleArn"],
            ownerArn=addon["addonArn"],
            tags=addon["tags"],
        )
        for item in wanted
    ]
    addon["podIdentityAssociations"] = [a["associationArn"] for a in created]


def create_addon(self: Any) -> Any:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    name = _param(self, "addonName")
    extras = _extras(cluster)
    if name in extras.addons:
        raise _in_use(f"Addon already exists with name: {name}", clusterName=cluster.name, addonName=name)
    version = _addon_version(cluster, name, _param(self, "addonVersion"))
    _check_configuration(cluster, name, _param(self, "configurationValues"))
    now = _now()
    addon: dict[str, Any] = {
        "addonName": name,
        "clusterName": cluster.name,
        "status": "ACTIVE",
        "addonVersion": version,
        "health": {"issues": []},
        "addonArn": f"{_prefix(cluster)}:addon/{cluster.name}/{name}/{secrets.token_hex(18)}",
        "createdAt": now,
        "modifiedAt": now,
        "tags": dict(_param(self, "tags") or {}),
        "owner": "aws",
        "publisher": "eks",
        "podIdentityAssociations": [],
    }
    for key in ("serviceAccountRoleArn", "configurationValues"):
        if _param(self, key):
            addon[key] = _param(self, key)
    _addon_associations(self, cluster, addon, _param(self, "podIdentityAssociations") or [])
    extras.addons[name] = addon
    return _result({"addon": addon})


def _addon(self: Any) -> tuple[Any, dict[str, Any]]:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    name = self.uri_match.get("addonName") or _param(self, "addonName")
    addon = _extras(cluster).addons.get(name)
    if addon is None:
        raise _not_found(f"No addon: {name} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=name)
    return cluster, addon


def describe_addon(self: Any) -> Any:
    return _result({"addon": _addon(self)[1]})


def update_addon(self: Any) -> Any:
    cluster, addon = _addon(self)
    params = []
    if (version := _param(self, "addonVersion")) is not None:
        addon["addonVersion"] = _addon_version(cluster, addon["addonName"], version)
        params.append({"type": "AddonVersion", "value": addon["addonVersion"]})
    if (values := _param(self, "configurationValues")) is not None:
        _check_configuration(cluster, addon["addonName"], values)
        if values:
            addon["configurationValues"] = values
        else:
            addon.pop("configurationValues", None)
        params.append({"type": "ConfigurationValues", "value": values})
    if (role := _param(self, "serviceAccountRoleArn")) is not None:
        if role:
            addon["serviceAccountRoleArn"] = role
        else:
            addon.pop("serviceAccountRoleArn", None)
        params.append({"type": "ServiceAccountRoleArn", "value": role})
    if (associations := _param(self, "podIdentityAssociations")) is not None:
        _addon_associations(self, cluster, addon, associations)
        params.append({"type": "PodIdentityAssociations", "value": json.dumps(associations)})
    if (resolve := _param(self, "resolveConflicts")) is not None:
        params.append({"type": "ResolveConflicts", "value": resolve})
    addon["modifiedAt"] = _now()
    return _result({"update": _new_update(cluster, "AddonUpdate", params)})


def delete_addon(self: Any) -> Any:
    cluster, addon = _addon(self)
    extras = _extras(cluster)
    del extras.addons[addon["addonName"]]
    for association in [a for a in extras.associations.values() if a.get("ownerArn") == addon["addonArn"]]:
        del extras.associations[association["associationId"]]
    return _result({"addon": {**addon, "status": "DELETING"}})


def list_addons(self: Any) -> Any:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    return _result({"addons": sorted(_extras(cluster).addons)})


def describe_addon_versions(self: Any) -> Any:
    return _result({"addons": addon_catalogue(_param(self, "kubernetesVersion"), _param(self, "addonName"))})


def describe_update(self: Any) -> Any:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "name"))
    update_id = self.uri_match.get("updateId") or _param(self, "updateId")
    update = _extras(cluster).updates.get(update_id)
    if update is None:
        raise _not_found(f"No update found for ID: {update_id}", clusterName=cluster.name, addonName=None)
    return _result({"update": update})


# ---- access entries and access policies ------------------------------------------------------------------------


def _entry(self: Any) -> tuple[Any, dict[str, Any]]:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    principal = _principal(self)
    entry = _extras(cluster).access_entries.get(principal)
    if entry is None:
        raise _not_found(
            f"The specified principalArn could not be found. You can view your available access entries with "
            f"'list-access-entries'. (principalArn: {principal})",
            clusterName=cluster.name,
            addonName=None,
        )
    return cluster, entry


def create_access_entry(self: Any) -> Any:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    principal = str(_param(self, "principalArn"))
    extras = _extras(cluster)
    if getattr(cluster, "access_config", {}).get("authenticationMode") == "CONFIG_MAP":
        raise _invalid(
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this "
            "operation.",
            clusterName=cluster.name,
        )
    if principal in extras.access_entries:
        raise _in_use(
            f"The specified access entry resource is already in use on this cluster. (principalArn: {principal})",
            clusterName=cluster.name,
            addonName=None,
        )
    parts = principal.split(":")
    if len(parts) < 6 or parts[2] not in ("iam", "sts") or "/" not in parts[5]:
        raise _invalid(f"The specified principalArn is invalid: {principal}", clusterName=cluster.name)
    account, resource = parts[4], parts[5]
    kind, name = resource.split("/", 1)[0], resource.rsplit("/", 1)[-1]
    now = _now()
    default_user = f"arn:aws:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}" if kind == "role" else principal
    entry = {
        "clusterName": cluster.name,
        "principalArn": principal,
        "kubernetesGroups": list(_param(self, "kubernetesGroups") or []),
        "accessEntryArn": f"{_prefix(cluster)}:access-entry/{cluster.name}/{kind}/{account}/{name}/{_id(36)}",
        "createdAt": now,
        "modifiedAt": now,
        "tags": dict(_param(self, "tags") or {}),
        "username": _param(self, "username") or default_user,
        "type": _param(self, "type") or "STANDARD",
    }
    extras.access_entries[principal] = entry
    return _result({"accessEntry": entry})


def describe_access_entry(self: Any) -> Any:
    return _result({"accessEntry": _entry(self)[1]})


def update_access_entry(self: Any) -> Any:
    _, entry = _entry(self)
    if (groups := _param(self, "kubernetesGroups")) is not None:
        entry["kubernetesGroups"] = list(groups)
    if username := _param(self, "username"):
        entry["username"] = username
    entry["modifiedAt"] = _now()
    return _result({"accessEntry": entry})


def delete_access_entry(self: Any) -> Any:
    cluster, entry = _entry(self)
    extras = _extras(cluster)
    del extras.access_entries[entry["principalArn"]]
    extras.access_policies.pop(entry["principalArn"], None)  # EKS removes the entry's associations with it
    return _result({})


def list_access_entries(self: Any) -> Any:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    extras = _extras(cluster)
    policy = _param(self, "associatedPolicyArn")
    return _result(
        {
            "accessEntries": sorted(
                p for p in extras.access_entries if not policy or policy in extras.access_policies.get(p, {})
            )
        }
    )


_ACCESS_POLICIES = ("AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy")


def associate_access_policy(self: Any) -> Any:
    cluster, entry = _entry(self)
    policy = str(_param(self, "policyArn"))
    if policy.rsplit("/", 1)[-1] not in _ACCESS_POLICIES or ":eks::aws:cluster-access-policy/" not in policy:
        raise _not_found(f"The specified policyArn could not be found: {policy}", clusterName=cluster.name)
    scope = dict(_param(self, "accessScope") or {})
    if scope.get("type") == "namespace" and not scope.get("namespaces"):
        raise _invalid("Namespaces must be provided when the access scope type is namespace", clusterName=cluster.name)
    if scope.get("type") == "cluster" and scope.get("namespaces"):
        raise _invalid("Namespaces cannot be provided when the access scope type is cluster", clusterName=cluster.name)
    scope.setdefault("namespaces", [])
    now = _now()
    by_policy = _extras(cluster).access_policies.setdefault(entry["principalArn"], {})
    previous = by_policy.get(policy)
    associated = {
        "policyArn": policy,
        "accessScope": scope,
        "associatedAt": previous["associatedAt"] if previous else now,
        "modifiedAt": now,
    }
    by_policy[policy] = associated
    return _result(
        {"clusterName": cluster.name, "principalArn": entry["principalArn"], "associatedAccessPolicy": associated}
    )


def disassociate_access_policy(self: Any) -> Any:
    cluster, entry = _entry(self)
    policy = unquote(str(self.uri_match.get("policyArn") or _param(self, "policyArn")))
    by_policy = _extras(cluster).access_policies.get(entry["principalArn"], {})
    if by_policy.pop(policy, None) is None:
        raise _not_found(f"The specified policyArn is not associated: {policy}", clusterName=cluster.name)
    return _result({})


def list_associated_access_policies(self: Any) -> Any:
    cluster, entry = _entry(self)
    policies = _extras(cluster).access_policies.get(entry["principalArn"], {})
    return _result(
        {
            "clusterName": cluster.name,
            "principalArn": entry["principalArn"],
            "associatedAccessPolicies": [policies[k] for k in sorted(policies)],
        }
    )


# ---- Pod Identity associations ---------------------------------------------------------------------------------


def create_pod_identity_association(self: Any) -> Any:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    association = _associate(
        self,
        cluster,
        str(_param(self, "namespace")),
        str(_param(self, "serviceAccount")),
        str(_param(self, "roleArn")),
        tags=_param(self, "tags"),
        disableSessionTags=_param(self, "disableSessionTags"),
        targetRoleArn=_param(self, "targetRoleArn"),
        policy=_param(self, "policy"),
    )
    return _result({"association": association})


def _association(self: Any) -> tuple[Any, dict[str, Any]]:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    association_id = self.uri_match.get("associationId") or _param(self, "associationId")
    association = _extras(cluster).associations.get(association_id)
    if association is None:
        raise _not_found(f"Association {association_id} not found", clusterName=cluster.name, addonName=None)
    return cluster, association


def describe_pod_identity_association(self: Any) -> Any:
    return _result({"association": _association(self)[1]})


def update_pod_identity_association(self: Any) -> Any:
    _, association = _association(self)
    for key in ("roleArn", "disableSessionTags", "targetRoleArn", "policy"):
        value = _param(self, key)
        if value is not None:
            association[key] = value
    association["modifiedAt"] = _now()
    return _result({"association": association})


def delete_pod_identity_association(self: Any) -> Any:
    cluster, association = _association(self)
    if association.get("ownerArn"):
        raise _invalid(
            "Cannot delete an association owned by an add-on; update the add-on instead.", clusterName=cluster.name
        )
    del _extras(cluster).associations[association["associationId"]]
    return _result({"association": association})


def list_pod_identity_associations(self: Any) -> Any:
    cluster = _cluster(self, self.uri_match.get("name") or _param(self, "clusterName"))
    namespace, account = _param(self, "namespace"), _param(self, "serviceAccount")
    found = [
        {k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}
        | ({"ownerArn": a["ownerArn"]} if a.get("ownerArn") else {})
        for a in _extras(cluster).associations.values()
        if (not namespace or a["namespace"] == namespace) and (not account or a["serviceAccount"] == account)
    ]
    return _result({"associations": found})


# ---- tags on the new resources ----------------------------------------------------------------------------------


def _tagged(backend: Any, arn: str) -> dict[str, str] | None:
    """The tags dict of an add-on, access entry or association named by `arn`; None for moto's own resources."""
    for cluster in backend.clusters.values():
        extras: ClusterExtras | None = getattr(cluster, "vend_extras", None)
        if extras is None:
            continue
        for item in [*extras.addons.values(), *extras.access_entries.values(), *extras.associations.values()]:
            if arn in (item.get("addonArn"), item.get("accessEntryArn"), item.get("associationArn")):
                return item["tags"]  # type: ignore[no-any-return]
    return None


def _tag_resource(original: Callable[..., Any]) -> Callable[..., Any]:
    def tag_resource(self: Any, resource_arn: str, tags: dict[str, str]) -> None:
        found = _tagged(self, resource_arn)
        if found is None:
            return original(self, resource_arn, tags)  # type: ignore[no-any-return]
        found.update(tags)
        return None

    return tag_resource


def _untag_resource(original: Callable[..., Any]) -> Callable[..., Any]:
    def untag_resource(self: Any, resource_arn: str, tag_keys: list[str]) -> None:
        found = _tagged(self, resource_arn)
        if found is None:
            return original(self, resource_arn, tag_keys)  # type: ignore[no-any-return]
        for key in tag_keys:
            found.pop(key, None)
        return None

    return untag_resource


def _list_tags(original: Callable[..., Any]) -> Callable[..., Any]:
    def list_tags_for_resource(self: Any, resource_arn: str) -> dict[str, str]:
        found = _tagged(self, resource_arn)
        return dict(found) if found is not None else original(self, resource_arn)  # type: ignore[no-any-return]

    return list_tags_for_resource


# The routes botocore's model gives these operations (moto's EKS server answers 404 for any path it does not list).
ROUTES = (
    "{0}/clusters/(?P<name>[^/]+)/addons$",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$",
    "{0}/addons/supported-versions$",
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$",
    "{0}/clusters/(?P<name>[^/]+)/access-entries$",
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$",
)
OPERATIONS: dict[str, Any] = {
    f.__name__: f
    for f in (
        create_addon,
        describe_addon,
        update_addon,
        delete_addon,
        list_addons,
        describe_addon_versions,
        describe_update,
        create_access_entry,
        describe_access_entry,
        update_access_entry,
        delete_access_entry,
        list_access_entries,
        associate_access_policy,
        disassociate_access_policy,
        list_associated_access_policies,
        create_pod_identity_association,
        describe_pod_identity_association,
        update_pod_identity_association,
        delete_pod_identity_association,
        list_pod_identity_associations,
    )
}


@contextlib.contextmanager
def eks_completed() -> Iterator[None]:
    """moto's EKS with add-ons, access entries, Pod Identity, updates and the cluster security group, until exit."""
    from moto.ec2.responses.launch_templates import LaunchTemplates
    from moto.eks import urls
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse

    with contextlib.ExitStack() as stack:
        stack.enter_context(added(urls.url_paths, dict.fromkeys(ROUTES, EKSResponse.dispatch)))
        stack.enter_context(added(EKSResponse, OPERATIONS))
        stack.enter_context(replaced(EKSResponse, "create_cluster", ("self",), _create_cluster))
        stack.enter_context(replaced(EKSResponse, "delete_cluster", ("self",), _delete_cluster))
        stack.enter_context(replaced(EKSResponse, "create_nodegroup", ("self",), _create_nodegroup))
        stack.enter_context(replaced(LaunchTemplates, "create_launch_template", ("self",), _create_launch_template))
        stack.enter_context(replaced(EKSBackend, "tag_resource", ("self", "resource_arn", "tags"), _tag_resource))
        stack.enter_context(
            replaced(EKSBackend, "untag_resource", ("self", "resource_arn", "tag_keys"), _untag_resource)
        )
        stack.enter_context(replaced(EKSBackend, "list_tags_for_resource", ("self", "resource_arn"), _list_tags))
        yield
