"""Write each module's README.md (summary, usage from examples/basic, inputs and outputs tables) from its .tf files,
so the tables never drift. tests/terraform checks the READMEs are current.

    .venv/bin/python terraform/tools/module_docs.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import hcl2  # bc-python-hcl2 (dev extra), the parser checkov uses

MODULES = Path(__file__).resolve().parent.parent / "modules"

SUMMARIES = {
    "baseline": "Account baseline of a team: platform metadata in SSM (SecureString, KMS), the team's application log "
                "group (KMS, retention) and the key behind both.",
    "bedrock": "Bedrock for a team: model invocation logging to CloudWatch Logs, a guardrail (content filters, PII, "
               "denied topics) with a published version, and an invoke policy (bedrock:InvokeModel*, which also "
               "authorizes Converse) scoped to the allowed models and inference profiles, knowledge base retrieval, "
               "and by default to that guardrail.",
    "bedrock-knowledge-base": "A Bedrock knowledge base over an S3 document source: an OpenSearch Serverless vector "
                              "collection (encryption, private network and data access policies), the knowledge "
                              "base's least-privilege role and the S3 data source with fixed-size chunking.",
    "cloudfront": "A static frontend: private S3 origin (through the s3 module) behind CloudFront with origin access "
                  "control, HTTPS redirect, security headers, optional WAF, logging and geo restriction.",
    "ecs": "An ECS cluster for LLM hosting: Container Insights, Fargate capacity, and optionally a GPU capacity "
           "provider (ECS GPU-optimised AMI, IMDSv2, encrypted volumes, managed scaling).",
    "eks": "A private EKS cluster for GPU serving: KMS secrets encryption and control plane logs, managed node "
           "groups whose AMI follows the accelerator family (AL2023 NVIDIA for g/p, Neuron for inf/trn) on launch "
           "templates (IMDSv2, encrypted gp3, optional EFA), the core managed add-ons, access entries, Pod Identity "
           "(EBS CSI and caller roles), IRSA OIDC provider and Karpenter readiness (discovery tags, controller role, "
           "interruption queue and rules).",
    "glue": "A Glue Data Catalog database and, for given S3 paths, an encrypted crawler with a least-privilege role.",
    "iam": "Team IAM: a permissions boundary (allowed services only; no users, keys, boundary removal or Organizations "
           "calls) and roles trusted by AWS principals, services or OIDC (IRSA, GitHub), all carrying the boundary.",
    "lambda": "A Lambda function with secure defaults: VPC, KMS-encrypted environment and logs, dead-letter queue, "
              "X-Ray tracing, reserved concurrency, JSON logs, optional code signing.",
    "networking": "A private-only VPC for one region: private subnets across AZs, S3 gateway endpoint, interface "
                  "endpoints (ECR api/dkr, logs, STS by default; EKS node endpoints such as ec2, eks, eks-auth, "
                  "ssm, sqs, elasticloadbalancing on request; optional bedrock-runtime and sagemaker.runtime), "
                  "optional NAT egress (off by default), a closed default security group and KMS-encrypted flow logs.",
    "s3": "A data bucket with secure defaults: versioning, SSE-KMS (own key with rotation unless given), public access "
          "block, BucketOwnerEnforced, TLS-only policy, lifecycle housekeeping and optional access logging.",
    "sagemaker": "A SageMaker real-time endpoint (model, endpoint configuration, endpoint) in private subnets with "
                 "network isolation, its own security group, KMS, data capture and autoscaling on invocations per "
                 "instance, whose instance type is checked against the team's GPU tier.",
}


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        text = value[2:-1]
    return " ".join(text.split()).replace("|", "\\|")


def _load(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        blocks = hcl2.load(handle).get(kind, [])
    return [(name, body) for block in blocks for name, body in block.items()]


def render(module: Path) -> str:
    name = module.name
    lines = [f"# {name}", "", SUMMARIES.get(name, ""), "", "## Usage", "", "```hcl"]
    example = module / "examples" / "basic" / "main.tf"
    lines += [example.read_text(encoding="utf-8").rstrip(), "```", "",
              "Validated by `tests/terraform` (`terraform validate` of `examples/basic`).", "", "## Inputs", "",
              "| Name | Description | Type | Default | Required |", "| --- | --- | --- | --- | --- |"]
    for var, body in _load(module / "variables.tf", "variable"):
        has_default = "default" in body
        default = f"`{_clean(body['default'][0])}`" if has_default else "n/a"
        desc = _clean(body.get("description", [""])[0])
        lines.append(f"| `{var}` | {desc} | `{_clean(body.get('type', ['any'])[0])}` | {default} | "
                     f"{'no' if has_default else 'yes'} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "| --- | --- |"]
    for out, body in _load(module / "outputs.tf", "output"):
        lines.append(f"| `{out}` | {_clean(body.get('description', [''])[0])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate terraform/modules/*/README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if a README is out of date")
    args = parser.parse_args(argv)
    stale = []
    for module in sorted(p for p in MODULES.iterdir() if (p / "main.tf").exists()):
        text = render(module)
        readme = module / "README.md"
        if not readme.exists() or readme.read_text(encoding="utf-8") != text:
            stale.append(readme)
            if not args.check:
                readme.write_text(text, encoding="utf-8")
    for path in stale:
        print(("out of date: " if args.check else "wrote ") + str(path.relative_to(MODULES.parent)))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
