log_retention_days        = 731
artifacts_noncurrent_days = 180
