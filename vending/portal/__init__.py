"""The self-service portal (issue 25): server-rendered pages over the vending API, for team leads and the platform."""
