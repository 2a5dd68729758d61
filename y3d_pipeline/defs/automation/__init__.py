"""Automation: jobs, schedules, sensors (new orders, alerts) and data-quality checks."""
