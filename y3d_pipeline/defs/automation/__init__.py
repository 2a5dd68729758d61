"""Automation: jobs, schedules, sensors (new orders, alerts), data-quality checks and maintenance."""
