"""Stable import path for the ApplyGuardrails handler (vending/handlers/apply_guardrails.py imports from here).

The implementation lives in vending.guardrails; this module only names the contract.
"""

from vending.guardrails.account import GuardrailResult, apply_account_guardrails
from vending.guardrails.reconcile import Plan, reconcile_organization

__all__ = ["GuardrailResult", "Plan", "apply_account_guardrails", "reconcile_organization"]
