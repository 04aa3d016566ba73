"""The local notice sink: a webhook receiver and an SMTP server that keep what arrives."""
