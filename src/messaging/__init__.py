"""Messaging: the durable e-mail outbox, its background sender, and calendar subscriptions."""
