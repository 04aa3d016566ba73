"""Checks of deploy/: Prometheus rules, the Grafana dashboard, the Kubernetes manifests."""
