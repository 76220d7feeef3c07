"""Move and rotation notifications (issue 7): events, durable outbox, signed webhooks, SSE.

Pure core: ``event`` (planning), ``webhook`` (Standard Webhooks), the policy part of ``ssrf``.
Shells: ``outbox`` (SQLite), ``delivery`` (apscheduler), ``http`` (Flask), ``cli``.
"""
