"""The desk's own date formats (FORMAT_MODULE_PATH), over Django's for each language."""
