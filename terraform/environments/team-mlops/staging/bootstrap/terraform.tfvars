log_retention_days        = 365
artifacts_noncurrent_days = 30
