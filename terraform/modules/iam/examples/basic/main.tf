provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "iam" {
  source = "../.."

  name_prefix = "team-example"
  roles = {
    inference = {
      description = "IRSA role for the inference service account"
      oidc = {
        provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
        issuer       = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
        subjects     = ["system:serviceaccount:inference:server"]
      }
    }
  }
}

output "role_arns" {
  value = module.iam.role_arns
}
