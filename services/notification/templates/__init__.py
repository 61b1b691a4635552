"""Jinja2 message templates (Chinese); a package so the wheel ships them."""
