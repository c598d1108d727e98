"""Value patterns shared by the engine's validation and the sandbox CRM (one definition, so the
engine never sends what the sandbox would refuse for the same reason)."""

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$"
PHONE_PATTERN = r"^\+?[0-9 ().-]{7,32}$"
