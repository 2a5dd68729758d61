"""Operator reports (AI usage)."""
