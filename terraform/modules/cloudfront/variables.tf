variable "name" {
  description = "Name of the site; prefixes the origin bucket and the CloudFront resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits and hyphens."
  }
}

variable "origin_bucket_name" {
  description = "Name of the private S3 origin bucket this module creates (through the s3 module)."
  type        = string
}

variable "aliases" {
  description = "Alternate domain names (need acm_certificate_arn)."
  type        = list(string)
  default     = []
}

variable "acm_certificate_arn" {
  description = "ACM certificate in us-east-1 for the aliases. Null uses the CloudFront default certificate."
  type        = string
  default     = null

  validation {
    condition     = var.acm_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN in us-east-1."
  }
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "web_acl_arn" {
  description = "WAFv2 web ACL (scope CLOUDFRONT) in front of the distribution."
  type        = string
  default     = null
}

variable "geo_restriction_locations" {
  description = "ISO country codes allowed to reach the site; empty allows all."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.geo_restriction_locations : can(regex("^[A-Z]{2}$", c))])
    error_message = "geo_restriction_locations must be two-letter upper-case ISO country codes."
  }
}

variable "default_root_object" {
  description = "Object served for the root URL."
  type        = string
  default     = "index.html"
}

variable "access_log_bucket_domain" {
  description = "Bucket domain name (bucket.s3.amazonaws.com) for standard access logs; null disables them."
  type        = string
  default     = null
}

variable "response_headers_policy_id" {
  description = "Response headers policy of the default behaviour. The default is AWS's managed SecurityHeadersPolicy (HSTS, X-Content-Type-Options, X-Frame-Options, Referrer-Policy, X-XSS-Protection)."
  type        = string
  default     = "67f7725c-6f97-4210-82d7-5512b31e9d03"

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.response_headers_policy_id))
    error_message = "response_headers_policy_id must be a CloudFront policy ID (a UUID)."
  }
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
