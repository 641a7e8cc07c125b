"""Guardrails domain: reconcile the rendered SCPs (scps/) into the organization and audit them."""

from vending.guardrails.account import GuardrailResult, apply_account_guardrails
from vending.guardrails.reconcile import Plan, reconcile_organization

__all__ = ["GuardrailResult", "Plan", "apply_account_guardrails", "reconcile_organization"]
