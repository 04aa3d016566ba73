"""The escalation notifier: delivers `escalation_raised` notices by webhook, Slack and e-mail."""
