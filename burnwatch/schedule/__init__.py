"""Scheduled satellite scans: schedule file, due passes, job state, the service, notifications.

``config`` (the schedule file) -> ``passes`` (what is due, by a clock) -> ``jobs`` (state in
the database) -> ``runner`` (scan, ingest, notify) -> ``notify`` (webhook, SMTP, digest).
"""
