"""Messages: default copy in French and English, the merchant's sandboxed templates, the
email layout, SMS rules (GSM-7, segments, shop name, STOP) and WhatsApp template variables."""
