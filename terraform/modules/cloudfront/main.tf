locals {
  tags        = merge(var.tags, { "vend:module" = "cloudfront" })
  origin_id   = "s3-${var.origin_bucket_name}"
  custom_cert = var.acm_certificate_arn != null
}

module "origin" {
  source = "../s3"

  name = var.origin_bucket_name
  tags = local.tags
  # Only this distribution may read, through origin access control (no public access, no OAI).
  policy_statements = [{
    Sid       = "CloudFrontReads"
    Effect    = "Allow"
    Principal = { Service = "cloudfront.amazonaws.com" }
    Action    = "s3:GetObject"
    Resource  = "arn:aws:s3:::${var.origin_bucket_name}/*"
    Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.this.arn } }
  }]
}

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-oac"
  description                       = "Signed requests from ${var.name} to its origin bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "this" {
  # checkov:skip=CKV_AWS_310:A single S3 origin; failover needs a second-region replica the frontend team has not asked for.
  # checkov:skip=CKV_AWS_374:Geo restriction is opt-in through var.geo_restriction_locations; the site is global by default.
  # checkov:skip=CKV2_AWS_47:WAF is attached when var.web_acl_arn is set; the managed rule sets are chosen by the team's security review.
  # checkov:skip=CKV_AWS_68:Same reason as CKV2_AWS_47.
  # checkov:skip=CKV_AWS_86:Access logging is enabled when var.access_log_bucket_domain is set.
  # checkov:skip=CKV_AWS_174:With the default *.cloudfront.net certificate CloudFront fixes the minimum protocol; TLSv1.2_2021 applies when a custom certificate is set.
  # checkov:skip=CKV2_AWS_42:Same reason: a custom certificate is used when aliases are configured.
  # checkov:skip=CKV2_AWS_32:A response headers policy is always attached, by ID (AWS managed SecurityHeadersPolicy by default); the graph check only recognises a policy resource declared in the same configuration.
  enabled             = true
  is_ipv6_enabled     = true
  comment             = var.name
  default_root_object = var.default_root_object
  price_class         = var.price_class
  aliases             = var.aliases
  web_acl_id          = var.web_acl_arn
  http_version        = "http2and3"

  origin {
    origin_id                = local.origin_id
    domain_name              = module.origin.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = "658327ea-f89d-4fab-a63d-7e88639e58f6" # AWS managed CachingOptimized
    response_headers_policy_id = var.response_headers_policy_id
  }

  dynamic "logging_config" {
    for_each = var.access_log_bucket_domain == null ? [] : [var.access_log_bucket_domain]
    content {
      bucket          = logging_config.value
      prefix          = "cloudfront/${var.name}/"
      include_cookies = false
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = length(var.geo_restriction_locations) > 0 ? "whitelist" : "none"
      locations        = var.geo_restriction_locations
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = !local.custom_cert
    acm_certificate_arn            = var.acm_certificate_arn
    ssl_support_method             = local.custom_cert ? "sni-only" : null
    minimum_protocol_version       = local.custom_cert ? "TLSv1.2_2021" : "TLSv1"
  }

  tags = local.tags
}
