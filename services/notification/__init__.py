"""Notification: Reporter feedback, unit reminders and escalation, bulletins, deliveries."""
