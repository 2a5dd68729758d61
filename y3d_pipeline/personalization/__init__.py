"""Personalization for the print queue: reading what a buyer wants printed, validating it, storing tasks.

Plain Python (no Dagster): the ``print_queue`` assets are thin wrappers around ``service``.
"""
