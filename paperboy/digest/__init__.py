"""Email digests: subscriptions (double opt-in), plan (who gets which papers, never twice), compose (Jinja2 HTML +
plain text), send (a database outbox drained over SMTP)."""
