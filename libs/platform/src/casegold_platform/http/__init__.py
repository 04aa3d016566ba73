"""The HTTP plumbing every Casegold service shares: API keys, health, metrics, offline docs."""

from casegold_platform.http.auth import (
    BEARER_SCHEME,
    DEV_KEYS,
    ROLES,
    ApiKeyEntry,
    ApiKeySettings,
    AuthError,
    KeyRing,
    Principal,
    Role,
    authenticate,
    authorizer,
    dev_key_entries,
    parse_key_list,
    role_dependency,
)
from casegold_platform.http.fast_lane import FastLane, install_fast_lane
from casegold_platform.http.metrics import HttpMetrics, HttpMetricsMiddleware, exposition
from casegold_platform.http.plumbing import Health, Readiness, install_plumbing, service_app

__all__ = [
    "BEARER_SCHEME",
    "DEV_KEYS",
    "ROLES",
    "ApiKeyEntry",
    "ApiKeySettings",
    "AuthError",
    "FastLane",
    "Health",
    "HttpMetrics",
    "HttpMetricsMiddleware",
    "KeyRing",
    "Principal",
    "Readiness",
    "Role",
    "authenticate",
    "authorizer",
    "dev_key_entries",
    "exposition",
    "install_fast_lane",
    "install_plumbing",
    "parse_key_list",
    "role_dependency",
    "service_app",
]
