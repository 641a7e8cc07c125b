data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  boundary_arn  = var.create_permissions_boundary ? aws_iam_policy.boundary[0].arn : var.permissions_boundary_arn
  boundary_name = "${var.name_prefix}-permissions-boundary"
  tags          = merge(var.tags, { "vend:module" = "iam" })

  attachments = merge([
    # Keyed by position, not ARN: an ARN made in the same apply is unknown at plan time and cannot be a for_each key.
    for role, spec in var.roles : { for i, arn in spec.managed_policy_arns : "${role}|${i}" => { role = role, arn = arn } }
  ]...)
}

resource "aws_iam_policy" "boundary" {
  # checkov:skip=CKV_AWS_355:A permissions boundary caps what roles may do; it grants nothing on its own, so a broad Resource is intended.
  # checkov:skip=CKV_AWS_288:Same reason: the boundary is a ceiling, the roles' own policies decide what is readable.
  # checkov:skip=CKV_AWS_289:Same reason: permission management is denied explicitly below for everything that could escape the boundary.
  # checkov:skip=CKV_AWS_290:Same reason: write access is still limited by each role's identity policy.
  # checkov:skip=CKV_AWS_286:Same reason: privilege escalation paths (iam:*, boundary removal) are denied explicitly below.
  # checkov:skip=CKV_AWS_287:Same reason: credentials exposure is limited by the roles' own policies.
  count = var.create_permissions_boundary ? 1 : 0

  name        = local.boundary_name
  description = "Ceiling for every role of ${var.name_prefix}: allowed services only; IAM and Organizations escapes denied."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "AllowedServices"
        Effect   = "Allow"
        Action   = [for s in var.boundary_allowed_services : "${s}:*"]
        Resource = "*"
      },
      {
        Sid      = "PassAndReadOwnRoles"
        Effect   = "Allow"
        Action   = ["iam:PassRole", "iam:GetRole", "iam:ListRoles", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]
        Resource = "arn:${local.partition}:iam::${local.account_id}:role/${var.name_prefix}-*"
      },
      {
        Sid      = "NoUsersOrKeys"
        Effect   = "Deny"
        Action   = ["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"]
        Resource = "*"
      },
      {
        Sid    = "BoundaryIsPermanent"
        Effect = "Deny"
        Action = ["iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]
        Resource = [
          "arn:${local.partition}:iam::${local.account_id}:policy/${local.boundary_name}",
          "arn:${local.partition}:iam::${local.account_id}:role/*",
        ]
      },
      {
        Sid      = "NewRolesCarryTheBoundary"
        Effect   = "Deny"
        Action   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
        Resource = "*"
        Condition = {
          StringNotEquals = { "iam:PermissionsBoundary" = "arn:${local.partition}:iam::${local.account_id}:policy/${local.boundary_name}" }
        }
      },
      {
        Sid      = "NoOrganizationOrAccountChanges"
        Effect   = "Deny"
        Action   = ["organizations:*", "account:*"]
        Resource = "*"
      },
    ]
  })
  tags = local.tags
}

data "aws_iam_policy_document" "trust" {
  for_each = var.roles

  dynamic "statement" {
    for_each = length(each.value.aws_principals) > 0 ? [1] : []
    content {
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "AWS"
        identifiers = each.value.aws_principals
      }
    }
  }

  dynamic "statement" {
    for_each = length(each.value.service_principals) > 0 ? [1] : []
    content {
      actions = ["sts:AssumeRole"]
      principals {
        type        = "Service"
        identifiers = each.value.service_principals
      }
    }
  }

  dynamic "statement" {
    for_each = each.value.oidc == null ? [] : [each.value.oidc]
    content {
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [statement.value.provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${statement.value.issuer}:aud"
        values   = [statement.value.audience]
      }
      condition {
        test     = "StringLike"
        variable = "${statement.value.issuer}:sub"
        values   = statement.value.subjects
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = var.roles

  name                 = "${var.name_prefix}-${each.key}"
  description          = each.value.description
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  permissions_boundary = local.boundary_arn
  max_session_duration = each.value.max_session_duration
  tags                 = merge(local.tags, { "vend:role" = each.key })
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = local.attachments

  role       = aws_iam_role.this[each.value.role].name
  policy_arn = each.value.arn
}

resource "aws_iam_role_policy" "this" {
  for_each = { for k, r in var.roles : k => r if r.inline_policy_json != null }

  name   = "${var.name_prefix}-${each.key}"
  role   = aws_iam_role.this[each.key].id
  policy = each.value.inline_policy_json
}
