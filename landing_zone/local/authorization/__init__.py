"""The emulator's authorization: every call decided as AWS's policy-evaluation logic decides it (middleware.py)."""
