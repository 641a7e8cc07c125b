"""Run-time AI spend: the live meter and the freeze fence (issue 24 items 3 and 4)."""
