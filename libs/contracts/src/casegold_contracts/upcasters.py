"""Upcasters of older event versions; import-time registration keeps them next to each other."""

# No event type has been versioned yet. A breaking change to `case_opened`, for example,
# would raise CaseOpened.SCHEMA_VERSION to 2 and add here:
#
#     @register_upcaster("case_opened", from_version=1)
#     def _case_opened_v1(envelope: dict[str, Any]) -> dict[str, Any]:
#         payload = {**envelope["payload"], "new_field": "default"}
#         return {**envelope, "payload": payload}
