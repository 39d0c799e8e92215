"""changeguard: change-management guardrail."""
