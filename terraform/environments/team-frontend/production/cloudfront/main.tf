# The frontend: a private S3 origin (s3 module: versioned, KMS, public access blocked, TLS-only) behind CloudFront with
# origin access control and security headers.

module "site" {
  source = "../../../../modules/cloudfront"

  name               = "${var.team}-${var.stage}-web"
  origin_bucket_name = "${var.team}-${var.stage}-web-${var.account_id}"
  price_class        = var.price_class
}
