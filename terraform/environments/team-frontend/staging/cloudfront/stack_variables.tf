variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}
